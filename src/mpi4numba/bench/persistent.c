/* C baseline of `python -m mpi4numba.bench persistent`, loaded as a shared library into
 * an MPI job that mpi4py initialised (built with -fopenmp, and with -march=native where the
 * compiler takes it: Numba compiles the other stack for this machine's CPU too).
 *
 * bench_persistent(op, n, warmup, threads, elements) runs operation op: WARMUP untimed
 * iterations, a barrier, n timed ones; it returns microseconds per iteration, the slowest
 * rank's. A persistent form sets its request up once, outside the timed loop, and then
 * only starts and waits. The filled messages go around a ring (rank r sends to r + 1):
 * `threads` OpenMP threads each fill their part of `elements` doubles, then one isend
 * carries the message, or each thread marks its partition ready as soon as it is filled;
 * `fill_only` times the threads' fill alone (the threading runtime's part of those rows).
 */
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdlib.h>

#define NOPS 9
static const char *const OPS[NOPS] = {"allreduce", "allreduce_init", "bcast", "bcast_init",
                                      "neighbor_alltoall", "neighbor_alltoall_init",
                                      "isend_filled", "psend_filled", "fill_only"};

const char *bench_op_name(int op) { return op >= 0 && op < NOPS ? OPS[op] : NULL; }

/* thread p's part, written as the mpi4numba stack writes it (vectorised) */
static void fill_part(double *message, long part, int p, int step) {
    double *mine = message + p * part;
    long first = p * part;
#pragma omp simd
    for (long j = 0; j < part; j++) mine[j] = step + 0.5 * (first + j);
}

static void fill(double *message, int threads, long part, int step) {
    int p;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (p = 0; p < threads; p++) fill_part(message, part, p, step);
}

static void fill_and_mark(double *message, int threads, long part, int step, MPI_Request request) {
    int p;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (p = 0; p < threads; p++) {
        fill_part(message, part, p, step);
        MPI_Pready(p, request);
    }
}

/* n iterations of op; the requests of the persistent forms are made by the caller */
static void loop(int op, int n, MPI_Comm ring, MPI_Request *requests, double *one, double *sum,
                 double *outgoing, double *incoming, int threads, long part) {
    int i, rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    for (i = 0; i < n; i++) switch (op) {
        case 0: MPI_Allreduce(one, sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); break;
        case 2: MPI_Bcast(one, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD); break;
        case 4: MPI_Neighbor_alltoall(one, 1, MPI_DOUBLE, sum, 1, MPI_DOUBLE, ring); break;
        case 1: case 3: case 5:
            MPI_Start(&requests[0]);
            MPI_Wait(&requests[0], MPI_STATUS_IGNORE);
            break;
        case 6:
            fill(outgoing, threads, part, i);
            MPI_Irecv(incoming, (int)(threads * part), MPI_DOUBLE, left, 7, MPI_COMM_WORLD, &requests[0]);
            MPI_Isend(outgoing, (int)(threads * part), MPI_DOUBLE, right, 7, MPI_COMM_WORLD, &requests[1]);
            MPI_Waitall(2, requests, MPI_STATUSES_IGNORE);
            break;
        case 7:
            MPI_Startall(2, requests);
            fill_and_mark(outgoing, threads, part, i, requests[1]);
            MPI_Waitall(2, requests, MPI_STATUSES_IGNORE);
            break;
        case 8: fill(outgoing, threads, part, i); break;
    }
}

/* Microseconds per iteration of op (slowest rank), or a negative value on failure. */
double bench_persistent(int op, int n, int warmup, int threads, long elements) {
    int rank, size, periodic = 1;
    double one[2] = {1.0, 2.0}, sum[2], start, elapsed, slowest;
    long part = elements / threads;
    MPI_Comm ring;
    MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    double *outgoing = calloc(threads * part, sizeof(double));
    double *incoming = calloc(threads * part, sizeof(double));
    if (!outgoing || !incoming || op < 0 || op >= NOPS) return -1.0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Cart_create(MPI_COMM_WORLD, 1, &size, &periodic, 0, &ring);
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    if (op == 1) MPI_Allreduce_init(one, sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, MPI_INFO_NULL, &requests[0]);
    if (op == 3) MPI_Bcast_init(one, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD, MPI_INFO_NULL, &requests[0]);
    if (op == 5)
        MPI_Neighbor_alltoall_init(one, 1, MPI_DOUBLE, sum, 1, MPI_DOUBLE, ring, MPI_INFO_NULL, &requests[0]);
    if (op == 7) {
        MPI_Precv_init(incoming, threads, part, MPI_DOUBLE, left, 7, MPI_COMM_WORLD, MPI_INFO_NULL, &requests[0]);
        MPI_Psend_init(outgoing, threads, part, MPI_DOUBLE, right, 7, MPI_COMM_WORLD, MPI_INFO_NULL, &requests[1]);
    }
    loop(op, warmup, ring, requests, one, sum, outgoing, incoming, threads, part);
    MPI_Barrier(MPI_COMM_WORLD);
    start = MPI_Wtime();
    loop(op, n, ring, requests, one, sum, outgoing, incoming, threads, part);
    elapsed = MPI_Wtime() - start;
    MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (incoming[threads * part - 1] != (n - 1) + 0.5 * (threads * part - 1) && (op == 6 || op == 7)) slowest = -1.0;
    for (int r = 0; r < 2; r++)
        if (requests[r] != MPI_REQUEST_NULL && op != 6) MPI_Request_free(&requests[r]);
    MPI_Comm_free(&ring);
    free(outgoing);
    free(incoming);
    return slowest < 0 ? -1.0 : 1e6 * slowest / n;
}
