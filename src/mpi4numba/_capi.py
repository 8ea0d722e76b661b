"""The MPI C routines mpi4numba calls, each declared once by its prototype (see _ccall)."""

from ._ccall import c_function

# Environment
MPI_Initialized = c_function("int MPI_Initialized(out int flag)")
MPI_Query_thread = c_function("int MPI_Query_thread(out int provided)")
MPI_Wtime = c_function("double MPI_Wtime()")
MPI_Error_class = c_function("int MPI_Error_class(int errorcode, out int errorclass)")
MPI_Error_string = c_function("int MPI_Error_string(int errorcode, ptr string, ptr resultlen)")

# Communicators
MPI_Comm_rank = c_function("int MPI_Comm_rank(Comm comm, out int rank)")
MPI_Comm_size = c_function("int MPI_Comm_size(Comm comm, out int size)")
MPI_Comm_dup = c_function("int MPI_Comm_dup(Comm comm, out Comm newcomm)")
MPI_Comm_split = c_function("int MPI_Comm_split(Comm comm, int color, int key, out Comm newcomm)")
MPI_Comm_free = c_function("int MPI_Comm_free(inout Comm comm)")

# Datatypes
MPI_Type_create_hvector = c_function(
    "int MPI_Type_create_hvector(count count, int blocklength, aint stride, Datatype oldtype, out Datatype newtype)"
)
MPI_Type_contiguous = c_function("int MPI_Type_contiguous(count count, Datatype oldtype, out Datatype newtype)")
MPI_Type_commit = c_function("int MPI_Type_commit(inout Datatype datatype)")
MPI_Type_free = c_function("int MPI_Type_free(inout Datatype datatype)")

# Point-to-point
MPI_Send = c_function("int MPI_Send(ptr buf, count count, Datatype datatype, int dest, int tag, Comm comm)")
MPI_Recv = c_function(
    "int MPI_Recv(ptr buf, count count, Datatype datatype, int source, int tag, Comm comm, Status* status=IGNORE)"
)
MPI_Sendrecv = c_function(
    "int MPI_Sendrecv(ptr sendbuf, count sendcount, Datatype sendtype, int dest, int sendtag,"
    " ptr recvbuf, count recvcount, Datatype recvtype, int source, int recvtag, Comm comm,"
    " Status* status=IGNORE)"
)
MPI_Isend = c_function(
    "int MPI_Isend(ptr buf, count count, Datatype datatype, int dest, int tag, Comm comm, ptr request)"
)
MPI_Irecv = c_function(
    "int MPI_Irecv(ptr buf, count count, Datatype datatype, int source, int tag, Comm comm, ptr request)"
)

# Completion
MPI_Wait = c_function("int MPI_Wait(ptr request, Status* status=IGNORE)")
MPI_Waitall = c_function("int MPI_Waitall(count count, ptr requests, Status* statuses=IGNORE)")
MPI_Waitany = c_function("int MPI_Waitany(count count, ptr requests, out int index, Status* status=IGNORE)")
MPI_Test = c_function("int MPI_Test(ptr request, out int flag, Status* status=IGNORE)")
MPI_Testall = c_function("int MPI_Testall(count count, ptr requests, out int flag, Status* statuses=IGNORE)")
MPI_Testany = c_function(
    "int MPI_Testany(count count, ptr requests, out int index, out int flag, Status* status=IGNORE)"
)

# Collectives
MPI_Barrier = c_function("int MPI_Barrier(Comm comm)")
MPI_Bcast = c_function("int MPI_Bcast(ptr buffer, count count, Datatype datatype, int root, Comm comm)")
MPI_Allreduce = c_function(
    "int MPI_Allreduce(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, Comm comm)"
)
MPI_Reduce = c_function(
    "int MPI_Reduce(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, int root, Comm comm)"
)
MPI_Scatter = c_function(
    "int MPI_Scatter(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, int root, Comm comm)"
)
MPI_Gather = c_function(
    "int MPI_Gather(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, int root, Comm comm)"
)
MPI_Allgather = c_function(
    "int MPI_Allgather(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm)"
)
MPI_Scatterv = c_function(
    "int MPI_Scatterv(ptr sendbuf, ptr sendcounts, ptr displs, Datatype sendtype, ptr recvbuf,"
    " count recvcount, Datatype recvtype, int root, Comm comm)"
)
MPI_Gatherv = c_function(
    "int MPI_Gatherv(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
    " ptr displs, Datatype recvtype, int root, Comm comm)"
)
MPI_Allgatherv = c_function(
    "int MPI_Allgatherv(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
    " ptr displs, Datatype recvtype, Comm comm)"
)
MPI_Alltoall = c_function(
    "int MPI_Alltoall(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm)"
)
MPI_Alltoallv = c_function(
    "int MPI_Alltoallv(ptr sendbuf, ptr sendcounts, ptr sdispls, Datatype sendtype, ptr recvbuf,"
    " ptr recvcounts, ptr rdispls, Datatype recvtype, Comm comm)"
)
MPI_Reduce_scatter = c_function(
    "int MPI_Reduce_scatter(ptr sendbuf, ptr recvbuf, ptr recvcounts, Datatype datatype, Op op, Comm comm)"
)
MPI_Reduce_scatter_block = c_function(
    "int MPI_Reduce_scatter_block(ptr sendbuf, ptr recvbuf, count recvcount, Datatype datatype, Op op, Comm comm)"
)
MPI_Scan = c_function("int MPI_Scan(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, Comm comm)")
MPI_Exscan = c_function("int MPI_Exscan(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, Comm comm)")

# Point-to-point, probes and persistent requests
MPI_Ssend = c_function("int MPI_Ssend(ptr buf, count count, Datatype datatype, int dest, int tag, Comm comm)")
MPI_Issend = c_function(
    "int MPI_Issend(ptr buf, count count, Datatype datatype, int dest, int tag, Comm comm, ptr request)"
)
MPI_Recv_status = c_function(  # MPI_Recv, declared a second time with its status returned
    "int MPI_Recv(ptr buf, count count, Datatype datatype, int source, int tag, Comm comm, out Status status)"
)
MPI_Get_count = c_function("int MPI_Get_count(Status status, Datatype datatype, out int count)")
MPI_Probe = c_function("int MPI_Probe(int source, int tag, Comm comm, out Status status)")
MPI_Iprobe = c_function("int MPI_Iprobe(int source, int tag, Comm comm, out int flag, out Status status)")
MPI_Mprobe = c_function(
    "int MPI_Mprobe(int source, int tag, Comm comm, out Message message, out Status status)"
)
MPI_Improbe = c_function(
    "int MPI_Improbe(int source, int tag, Comm comm, out int flag, out Message message, out Status status)"
)
MPI_Mrecv = c_function(
    "int MPI_Mrecv(ptr buf, count count, Datatype datatype, inout Message message, out Status status)"
)
MPI_Imrecv = c_function(
    "int MPI_Imrecv(ptr buf, count count, Datatype datatype, inout Message message, ptr request)"
)
MPI_Send_init = c_function(
    "int MPI_Send_init(ptr buf, count count, Datatype datatype, int dest, int tag, Comm comm, ptr request)"
)
MPI_Recv_init = c_function(
    "int MPI_Recv_init(ptr buf, count count, Datatype datatype, int source, int tag, Comm comm, ptr request)"
)
MPI_Start = c_function("int MPI_Start(ptr request)")
MPI_Startall = c_function("int MPI_Startall(count count, ptr requests)")
MPI_Cancel = c_function("int MPI_Cancel(ptr request)")
MPI_Request_free = c_function("int MPI_Request_free(ptr request)")

# Non-blocking collectives (nonblocking.py)

# Groups, communicator constructors, topologies and neighbour collectives (groups.py, topology.py)

# One-sided communication (window.py)

# Derived datatypes: cached strided types, structs (datatypes.py)

# Large counts (MPI-4 ``_c`` routines, where the library has them)
