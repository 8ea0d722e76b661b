/* C baseline of `python -m mpi4numba.bench suite`, built as a shared library with mpicc
 * and called through ctypes inside the benchmark's MPI job (MPI is already initialised by
 * mpi4py, so the C loops run at the same thread level as every other stack).
 *
 * suite_run() runs one operation at one message size and returns this rank's seconds:
 *   latency    OSU osu_latency: ping-pong between ranks 0 and 1, whole timed loop
 *   bw         OSU osu_bw: WINDOW MPI_Isend by rank 0 (MPI_Irecv on rank 1), MPI_Waitall,
 *              a 4-byte acknowledgement back; whole timed loop
 *   others     OSU collectives: each call timed alone, a barrier between calls; sum of
 *              the timed calls
 * The caller (Python) turns seconds into µs or MB/s the same way for every stack.
 * Buffers come from the caller: a (send) and b (receive), large enough for BYTES times
 * the number of processes. Reductions use int32 elements with MPI_SUM.
 */
#include <mpi.h>
#include <stdlib.h>

#define NOPS 8
static const char *const OPS[NOPS] = {"latency", "bw", "allreduce", "bcast",
                                      "reduce", "allgather", "alltoall", "barrier"};

const char *suite_op_name(int op) { return op >= 0 && op < NOPS ? OPS[op] : NULL; }

/* one collective call of op over BYTES per process */
static int collective(int op, char *a, char *b, int bytes) {
    MPI_Comm comm = MPI_COMM_WORLD;
    switch (op) {
    case 2: return MPI_Allreduce(a, b, bytes / 4, MPI_INT32_T, MPI_SUM, comm);
    case 3: return MPI_Bcast(a, bytes, MPI_BYTE, 0, comm);
    case 4: return MPI_Reduce(a, b, bytes / 4, MPI_INT32_T, MPI_SUM, 0, comm);
    case 5: return MPI_Allgather(a, bytes, MPI_BYTE, b, bytes, MPI_BYTE, comm);
    case 6: return MPI_Alltoall(a, bytes, MPI_BYTE, b, bytes, MPI_BYTE, comm);
    default: return MPI_Barrier(comm);
    }
}

/* Seconds measured on this rank (see above); *status gets the OR of MPI's return codes,
 * or -1 when op is unknown or the request array cannot be allocated. */
double suite_run(int op, char *a, char *b, int bytes, int n, int warmup, int window, int *status) {
    MPI_Comm comm = MPI_COMM_WORLD;
    MPI_Request *requests = NULL;
    double start = 0.0, total = 0.0, t;
    int rank, i, j, code = 0;
    char ack[4] = {0};
    MPI_Comm_rank(comm, &rank);
    *status = 0;
    if (op < 0 || op >= NOPS) {
        *status = -1;
        return 0.0;
    }
    if (op == 1) { /* allocated before timing, as the other stacks preallocate theirs */
        requests = malloc(sizeof(MPI_Request) * (window > 0 ? window : 1));
        if (!requests) {
            *status = -1;
            return 0.0;
        }
    }
    code |= MPI_Barrier(comm);
    for (i = 0; i < warmup + n; i++) {
        if (op <= 1) {
            if (i == warmup) start = MPI_Wtime();
            if (op == 0 && rank == 0) {
                code |= MPI_Send(a, bytes, MPI_BYTE, 1, 1, comm);
                code |= MPI_Recv(b, bytes, MPI_BYTE, 1, 1, comm, MPI_STATUS_IGNORE);
            } else if (op == 0 && rank == 1) {
                code |= MPI_Recv(b, bytes, MPI_BYTE, 0, 1, comm, MPI_STATUS_IGNORE);
                code |= MPI_Send(a, bytes, MPI_BYTE, 0, 1, comm);
            } else if (op == 1 && rank == 0) {
                for (j = 0; j < window; j++)
                    code |= MPI_Isend(a, bytes, MPI_BYTE, 1, 100, comm, &requests[j]);
                code |= MPI_Waitall(window, requests, MPI_STATUSES_IGNORE);
                code |= MPI_Recv(ack, 4, MPI_BYTE, 1, 101, comm, MPI_STATUS_IGNORE);
            } else if (op == 1 && rank == 1) {
                for (j = 0; j < window; j++)
                    code |= MPI_Irecv(b, bytes, MPI_BYTE, 0, 100, comm, &requests[j]);
                code |= MPI_Waitall(window, requests, MPI_STATUSES_IGNORE);
                code |= MPI_Send(ack, 4, MPI_BYTE, 0, 101, comm);
            }
        } else {
            t = MPI_Wtime();
            code |= collective(op, a, b, bytes);
            t = MPI_Wtime() - t;
            if (i >= warmup) total += t;
            code |= MPI_Barrier(comm);
        }
    }
    if (op <= 1) total = MPI_Wtime() - start;
    free(requests);
    *status = code;
    return total;
}
