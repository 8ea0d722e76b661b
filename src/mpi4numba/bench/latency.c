/* C baseline of `python -m mpi4numba.bench latency`.
 *
 * As a program:  latency LEVEL ITERATIONS LARGE_ITERATIONS WARMUP
 *   initialises MPI at LEVEL (single, funneled, serialized or multiple), runs every
 *   operation once and prints, on rank 0, one line: MPI4NUMBA_BENCH {json}.
 * As a shared library (built with -DBENCH_NO_MAIN): bench_latency() runs inside a job
 *   whose MPI is already initialised (by mpi4py).
 *
 * Each operation: WARMUP untimed iterations, a barrier, a timed loop. Results are in
 * microseconds: ping-pong, half a round trip on rank 0; allreduce, bcast and barrier,
 * time per call, the maximum over ranks; exchange, time per iteration on rank 0.
 * Ping-pong and exchange need two processes (NaN otherwise); ranks above 1 sit them out.
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOPS 7
static const char *const OPS[NOPS] = {"pingpong_8", "pingpong_1024", "pingpong_65536",
                                      "allreduce", "bcast", "barrier", "exchange"};
static const int PINGPONG_BYTES[3] = {8, 1024, 65536};
static const char *const LEVELS[4] = {"single", "funneled", "serialized", "multiple"};

const char *bench_op_name(int op) { return op >= 0 && op < NOPS ? OPS[op] : NULL; }

/* n iterations of operation op; a and b are 64 KiB buffers */
static void loop(int op, int n, int rank, char *a, char *b) {
    MPI_Comm comm = MPI_COMM_WORLD;
    double one = 1.0, sum;
    MPI_Request requests[2];
    int i, peer = 1 - rank;
    switch (op) {
    case 0: case 1: case 2: {
        int bytes = PINGPONG_BYTES[op];
        if (rank == 0)
            for (i = 0; i < n; i++) {
                MPI_Send(a, bytes, MPI_BYTE, 1, 0, comm);
                MPI_Recv(a, bytes, MPI_BYTE, 1, 0, comm, MPI_STATUS_IGNORE);
            }
        else if (rank == 1)
            for (i = 0; i < n; i++) {
                MPI_Recv(a, bytes, MPI_BYTE, 0, 0, comm, MPI_STATUS_IGNORE);
                MPI_Send(a, bytes, MPI_BYTE, 0, 0, comm);
            }
        break;
    }
    case 3:
        for (i = 0; i < n; i++) MPI_Allreduce(&one, &sum, 1, MPI_DOUBLE, MPI_SUM, comm);
        break;
    case 4:
        for (i = 0; i < n; i++) MPI_Bcast(a, 1, MPI_DOUBLE, 0, comm);
        break;
    case 5:
        for (i = 0; i < n; i++) MPI_Barrier(comm);
        break;
    case 6:
        if (rank < 2)
            for (i = 0; i < n; i++) {
                MPI_Isend(a, 8, MPI_BYTE, peer, 1, comm, &requests[0]);
                MPI_Irecv(b, 8, MPI_BYTE, peer, 1, comm, &requests[1]);
                MPI_Waitall(2, requests, MPI_STATUSES_IGNORE);
            }
        break;
    }
}

/* Fill usec[NOPS] (meaningful on rank 0); returns 0, or 1 if the buffers cannot be had. */
int bench_latency(int iterations, int large_iterations, int warmup, double *usec) {
    int rank, size, op;
    char *a = calloc(65536, 1), *b = calloc(65536, 1);
    if (!a || !b) return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (op = 0; op < NOPS; op++) {
        int p2p = op <= 2 || op == 6, n = op == 2 ? large_iterations : iterations;
        double start, elapsed, slowest;
        if (p2p && size < 2) {
            usec[op] = NAN;
            continue;
        }
        loop(op, warmup, rank, a, b);
        MPI_Barrier(MPI_COMM_WORLD);
        start = MPI_Wtime();
        loop(op, n, rank, a, b);
        elapsed = MPI_Wtime() - start;
        MPI_Reduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        usec[op] = 1e6 * (p2p ? elapsed : slowest) / n / (op <= 2 ? 2 : 1);
    }
    free(a);
    free(b);
    return 0;
}

#ifndef BENCH_NO_MAIN
int main(int argc, char **argv) {
    int required = -1, provided, level, rank, size, op;
    double usec[NOPS];
    if (argc != 5) {
        fprintf(stderr, "usage: %s LEVEL ITERATIONS LARGE_ITERATIONS WARMUP\n", argv[0]);
        return 2;
    }
    for (level = 0; level < 4; level++)
        if (strcmp(argv[1], LEVELS[level]) == 0) required = level;
    if (required < 0) {
        fprintf(stderr, "unknown thread level %s\n", argv[1]);
        return 2;
    }
    /* the MPI_THREAD_* constants are ordered, but their values are the library's */
    const int constants[4] = {MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED,
                              MPI_THREAD_MULTIPLE};
    MPI_Init_thread(&argc, &argv, constants[required], &provided);
    for (level = 0; level < 4; level++)
        if (constants[level] == provided) break;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (bench_latency(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), usec) != 0)
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (rank == 0) {
        printf("MPI4NUMBA_BENCH {\"stack\": \"C\", \"thread_level\": \"%s\", \"size\": %d, \"usec\": {",
               level < 4 ? LEVELS[level] : "unknown", size);
        for (op = 0; op < NOPS; op++) {
            printf(op ? ", \"%s\": " : "\"%s\": ", OPS[op]);
            if (isnan(usec[op])) printf("null");
            else printf("%.6f", usec[op]);
        }
        printf("}}\n");
        fflush(stdout);
    }
    MPI_Finalize();
    return 0;
}
#endif
