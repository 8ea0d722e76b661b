"""The MPI C routines mpi4numba calls, each declared once by its prototype (see :mod:`.ccall`)."""

from .ccall import c_function

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
MPI_Send = c_function("int MPI_Send(ptr buf, bigcount count, Datatype datatype, int dest, int tag, Comm comm)")
MPI_Recv = c_function(
    "int MPI_Recv(ptr buf, bigcount count, Datatype datatype, int source, int tag, Comm comm, Status* status=IGNORE)"
)
MPI_Sendrecv = c_function(
    "int MPI_Sendrecv(ptr sendbuf, bigcount sendcount, Datatype sendtype, int dest, int sendtag,"
    " ptr recvbuf, bigcount recvcount, Datatype recvtype, int source, int recvtag, Comm comm,"
    " Status* status=IGNORE)"
)
MPI_Isend = c_function(
    "int MPI_Isend(ptr buf, bigcount count, Datatype datatype, int dest, int tag, Comm comm, ptr request)"
)
MPI_Irecv = c_function(
    "int MPI_Irecv(ptr buf, bigcount count, Datatype datatype, int source, int tag, Comm comm, ptr request)"
)

# Completion
MPI_Wait = c_function("int MPI_Wait(ptr request, Status* status=IGNORE)")
MPI_Waitall = c_function("int MPI_Waitall(count count, ptr requests, Status* statuses=IGNORE)")
MPI_Waitany = c_function("int MPI_Waitany(count count, ptr requests, out int index, Status* status=IGNORE)")
MPI_Test = c_function("int MPI_Test(ptr request, out int flag, Status* status=IGNORE)")
MPI_Testall = c_function("int MPI_Testall(count count, ptr requests, out int flag, Status* statuses=IGNORE)")
MPI_Request_get_status = c_function("int MPI_Request_get_status(Request request, out int flag, Status* status=IGNORE)")
MPI_Testany = c_function(
    "int MPI_Testany(count count, ptr requests, out int index, out int flag, Status* status=IGNORE)"
)

# Collectives
MPI_Barrier = c_function("int MPI_Barrier(Comm comm)")
MPI_Bcast = c_function("int MPI_Bcast(ptr buffer, bigcount count, Datatype datatype, int root, Comm comm)")
MPI_Allreduce = c_function(
    "int MPI_Allreduce(ptr sendbuf, ptr recvbuf, bigcount count, Datatype datatype, Op op, Comm comm)"
)
MPI_Reduce = c_function(
    "int MPI_Reduce(ptr sendbuf, ptr recvbuf, bigcount count, Datatype datatype, Op op, int root, Comm comm)"
)
MPI_Scatter = c_function(
    "int MPI_Scatter(ptr sendbuf, bigcount sendcount, Datatype sendtype, ptr recvbuf, bigcount recvcount,"
    " Datatype recvtype, int root, Comm comm)"
)
MPI_Gather = c_function(
    "int MPI_Gather(ptr sendbuf, bigcount sendcount, Datatype sendtype, ptr recvbuf, bigcount recvcount,"
    " Datatype recvtype, int root, Comm comm)"
)
MPI_Allgather = c_function(
    "int MPI_Allgather(ptr sendbuf, bigcount sendcount, Datatype sendtype, ptr recvbuf, bigcount recvcount,"
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
    "int MPI_Alltoall(ptr sendbuf, bigcount sendcount, Datatype sendtype, ptr recvbuf, bigcount recvcount,"
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
    "int MPI_Reduce_scatter_block(ptr sendbuf, ptr recvbuf, bigcount recvcount, Datatype datatype, Op op, Comm comm)"
)
MPI_Scan = c_function("int MPI_Scan(ptr sendbuf, ptr recvbuf, bigcount count, Datatype datatype, Op op, Comm comm)")
MPI_Exscan = c_function("int MPI_Exscan(ptr sendbuf, ptr recvbuf, bigcount count, Datatype datatype, Op op, Comm comm)")

# Point-to-point, probes and persistent requests
MPI_Ssend = c_function("int MPI_Ssend(ptr buf, bigcount count, Datatype datatype, int dest, int tag, Comm comm)")
MPI_Issend = c_function(
    "int MPI_Issend(ptr buf, bigcount count, Datatype datatype, int dest, int tag, Comm comm, ptr request)"
)
MPI_Recv_status = c_function(  # MPI_Recv, declared a second time with its status returned
    "int MPI_Recv(ptr buf, bigcount count, Datatype datatype, int source, int tag, Comm comm, out Status status)"
)
MPI_Sendrecv_status = c_function(  # MPI_Sendrecv, declared a second time with its status returned
    "int MPI_Sendrecv(ptr sendbuf, bigcount sendcount, Datatype sendtype, int dest, int sendtag,"
    " ptr recvbuf, bigcount recvcount, Datatype recvtype, int source, int recvtag, Comm comm,"
    " out Status status)"
)
MPI_Get_count = c_function("int MPI_Get_count(Status status, Datatype datatype, out int count)")
MPI_Probe = c_function("int MPI_Probe(int source, int tag, Comm comm, out Status status)")
MPI_Iprobe = c_function("int MPI_Iprobe(int source, int tag, Comm comm, out int flag, out Status status)")
MPI_Mprobe = c_function("int MPI_Mprobe(int source, int tag, Comm comm, out Message message, out Status status)")
MPI_Improbe = c_function(
    "int MPI_Improbe(int source, int tag, Comm comm, out int flag, out Message message, out Status status)"
)
MPI_Mrecv = c_function(
    "int MPI_Mrecv(ptr buf, bigcount count, Datatype datatype, inout Message message, out Status status)"
)
MPI_Imrecv = c_function(
    "int MPI_Imrecv(ptr buf, bigcount count, Datatype datatype, inout Message message, ptr request)"
)
MPI_Send_init = c_function(
    "int MPI_Send_init(ptr buf, bigcount count, Datatype datatype, int dest, int tag, Comm comm, ptr request)"
)
MPI_Recv_init = c_function(
    "int MPI_Recv_init(ptr buf, bigcount count, Datatype datatype, int source, int tag, Comm comm, ptr request)"
)
MPI_Start = c_function("int MPI_Start(ptr request)")
MPI_Startall = c_function("int MPI_Startall(count count, ptr requests)")
MPI_Cancel = c_function("int MPI_Cancel(ptr request)")
MPI_Request_free = c_function("int MPI_Request_free(ptr request)")

# Non-blocking collectives (nonblocking.py)
MPI_Ibarrier = c_function("int MPI_Ibarrier(Comm comm, ptr request)")
MPI_Ibcast = c_function("int MPI_Ibcast(ptr buffer, count count, Datatype datatype, int root, Comm comm, ptr request)")
MPI_Ireduce = c_function(
    "int MPI_Ireduce(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, int root, Comm comm, ptr request)"
)
MPI_Iallreduce = c_function(
    "int MPI_Iallreduce(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, Comm comm, ptr request)"
)
MPI_Iscan = c_function(
    "int MPI_Iscan(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, Comm comm, ptr request)"
)
MPI_Iexscan = c_function(
    "int MPI_Iexscan(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, Comm comm, ptr request)"
)
MPI_Ireduce_scatter_block = c_function(
    "int MPI_Ireduce_scatter_block(ptr sendbuf, ptr recvbuf, count recvcount, Datatype datatype, Op op,"
    " Comm comm, ptr request)"
)
MPI_Igather = c_function(
    "int MPI_Igather(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, int root, Comm comm, ptr request)"
)
MPI_Iscatter = c_function(
    "int MPI_Iscatter(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, int root, Comm comm, ptr request)"
)
MPI_Iallgather = c_function(
    "int MPI_Iallgather(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm, ptr request)"
)
MPI_Ialltoall = c_function(
    "int MPI_Ialltoall(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm, ptr request)"
)
MPI_Igatherv = c_function(
    "int MPI_Igatherv(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
    " ptr displs, Datatype recvtype, int root, Comm comm, ptr request)"
)
MPI_Iscatterv = c_function(
    "int MPI_Iscatterv(ptr sendbuf, ptr sendcounts, ptr displs, Datatype sendtype, ptr recvbuf,"
    " count recvcount, Datatype recvtype, int root, Comm comm, ptr request)"
)
MPI_Iallgatherv = c_function(
    "int MPI_Iallgatherv(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
    " ptr displs, Datatype recvtype, Comm comm, ptr request)"
)
MPI_Ialltoallv = c_function(
    "int MPI_Ialltoallv(ptr sendbuf, ptr sendcounts, ptr sdispls, Datatype sendtype, ptr recvbuf,"
    " ptr recvcounts, ptr rdispls, Datatype recvtype, Comm comm, ptr request)"
)

# Groups, communicator constructors, topologies and neighbour collectives (groups.py, topology.py)
MPI_Comm_split_type = c_function(
    "int MPI_Comm_split_type(Comm comm, int split_type, int key, Info info, out Comm newcomm)"
)
MPI_Comm_compare = c_function("int MPI_Comm_compare(Comm comm1, Comm comm2, out int result)")
MPI_Comm_create = c_function("int MPI_Comm_create(Comm comm, Group group, out Comm newcomm)")
MPI_Comm_group = c_function("int MPI_Comm_group(Comm comm, out Group group)")
MPI_Group_incl = c_function("int MPI_Group_incl(Group group, int n, ptr ranks, out Group newgroup)")
MPI_Group_excl = c_function("int MPI_Group_excl(Group group, int n, ptr ranks, out Group newgroup)")
MPI_Group_size = c_function("int MPI_Group_size(Group group, out int size)")
MPI_Group_rank = c_function("int MPI_Group_rank(Group group, out int rank)")
MPI_Group_translate_ranks = c_function(
    "int MPI_Group_translate_ranks(Group group1, int n, ptr ranks1, Group group2, ptr ranks2)"
)
MPI_Group_free = c_function("int MPI_Group_free(inout Group group)")
MPI_Dims_create = c_function("int MPI_Dims_create(int nnodes, int ndims, ptr dims)")
MPI_Cart_create = c_function(
    "int MPI_Cart_create(Comm comm_old, int ndims, ptr dims, ptr periods, int reorder, out Comm comm_cart)"
)
MPI_Cartdim_get = c_function("int MPI_Cartdim_get(Comm comm, out int ndims)")
MPI_Cart_get = c_function("int MPI_Cart_get(Comm comm, int maxdims, ptr dims, ptr periods, ptr coords)")
MPI_Cart_coords = c_function("int MPI_Cart_coords(Comm comm, int rank, int maxdims, ptr coords)")
MPI_Cart_rank = c_function("int MPI_Cart_rank(Comm comm, ptr coords, out int rank)")
MPI_Cart_shift = c_function(
    "int MPI_Cart_shift(Comm comm, int direction, int disp, out int rank_source, out int rank_dest)"
)
MPI_Cart_sub = c_function("int MPI_Cart_sub(Comm comm, ptr remain_dims, out Comm newcomm)")
MPI_Topo_test = c_function("int MPI_Topo_test(Comm comm, out int status)")
MPI_Graph_create = c_function(
    "int MPI_Graph_create(Comm comm_old, int nnodes, ptr index, ptr edges, int reorder, out Comm comm_graph)"
)
MPI_Graph_neighbors_count = c_function("int MPI_Graph_neighbors_count(Comm comm, int rank, out int nneighbors)")
MPI_Graph_neighbors = c_function("int MPI_Graph_neighbors(Comm comm, int rank, int maxneighbors, ptr neighbors)")
MPI_Dist_graph_create_adjacent = c_function(
    "int MPI_Dist_graph_create_adjacent(Comm comm_old, int indegree, ptr sources, ptr sourceweights,"
    " int outdegree, ptr destinations, ptr destweights, Info info, int reorder, out Comm comm_dist_graph)"
)
MPI_Dist_graph_neighbors_count = c_function(
    "int MPI_Dist_graph_neighbors_count(Comm comm, out int indegree, out int outdegree, out int weighted)"
)
MPI_Dist_graph_neighbors = c_function(
    "int MPI_Dist_graph_neighbors(Comm comm, int maxindegree, ptr sources, ptr sourceweights,"
    " int maxoutdegree, ptr destinations, ptr destweights)"
)
MPI_Neighbor_allgather = c_function(
    "int MPI_Neighbor_allgather(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm)"
)
MPI_Neighbor_allgatherv = c_function(
    "int MPI_Neighbor_allgatherv(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
    " ptr displs, Datatype recvtype, Comm comm)"
)
MPI_Neighbor_alltoall = c_function(
    "int MPI_Neighbor_alltoall(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm)"
)
MPI_Neighbor_alltoallv = c_function(
    "int MPI_Neighbor_alltoallv(ptr sendbuf, ptr sendcounts, ptr sdispls, Datatype sendtype, ptr recvbuf,"
    " ptr recvcounts, ptr rdispls, Datatype recvtype, Comm comm)"
)

# One-sided communication (window.py)
MPI_Win_create = c_function("int MPI_Win_create(ptr base, aint size, int disp_unit, Info info, Comm comm, out Win win)")
MPI_Win_allocate = c_function(
    "int MPI_Win_allocate(aint size, int disp_unit, Info info, Comm comm, out ptr baseptr, out Win win)"
)
MPI_Win_allocate_shared = c_function(
    "int MPI_Win_allocate_shared(aint size, int disp_unit, Info info, Comm comm, out ptr baseptr, out Win win)"
)
MPI_Win_shared_query = c_function(
    "int MPI_Win_shared_query(Win win, int rank, out aint size, out int disp_unit, out ptr baseptr)"
)
MPI_Win_set_errhandler = c_function("int MPI_Win_set_errhandler(Win win, Errhandler errhandler)")
MPI_Win_free = c_function("int MPI_Win_free(inout Win win)")
MPI_Win_fence = c_function("int MPI_Win_fence(int assertion, Win win)")
MPI_Win_lock = c_function("int MPI_Win_lock(int lock_type, int rank, int assertion, Win win)")
MPI_Win_unlock = c_function("int MPI_Win_unlock(int rank, Win win)")
MPI_Win_lock_all = c_function("int MPI_Win_lock_all(int assertion, Win win)")
MPI_Win_unlock_all = c_function("int MPI_Win_unlock_all(Win win)")
MPI_Win_flush = c_function("int MPI_Win_flush(int rank, Win win)")
MPI_Win_flush_all = c_function("int MPI_Win_flush_all(Win win)")
MPI_Win_flush_local = c_function("int MPI_Win_flush_local(int rank, Win win)")
MPI_Win_flush_local_all = c_function("int MPI_Win_flush_local_all(Win win)")
MPI_Win_sync = c_function("int MPI_Win_sync(Win win)")
MPI_Put = c_function(
    "int MPI_Put(ptr origin_addr, count origin_count, Datatype origin_datatype, int target_rank,"
    " aint target_disp, count target_count, Datatype target_datatype, Win win)"
)
MPI_Get = c_function(
    "int MPI_Get(ptr origin_addr, count origin_count, Datatype origin_datatype, int target_rank,"
    " aint target_disp, count target_count, Datatype target_datatype, Win win)"
)
MPI_Accumulate = c_function(
    "int MPI_Accumulate(ptr origin_addr, count origin_count, Datatype origin_datatype, int target_rank,"
    " aint target_disp, count target_count, Datatype target_datatype, Op op, Win win)"
)
MPI_Get_accumulate = c_function(
    "int MPI_Get_accumulate(ptr origin_addr, count origin_count, Datatype origin_datatype,"
    " ptr result_addr, count result_count, Datatype result_datatype, int target_rank,"
    " aint target_disp, count target_count, Datatype target_datatype, Op op, Win win)"
)
MPI_Fetch_and_op = c_function(
    "int MPI_Fetch_and_op(ptr origin_addr, ptr result_addr, Datatype datatype, int target_rank,"
    " aint target_disp, Op op, Win win)"
)
MPI_Compare_and_swap = c_function(
    "int MPI_Compare_and_swap(ptr origin_addr, ptr compare_addr, ptr result_addr, Datatype datatype,"
    " int target_rank, aint target_disp, Win win)"
)

# Derived datatypes: cached strided types, structs (datatypes.py)
MPI_Type_create_struct = c_function(
    "int MPI_Type_create_struct(count count, ptr array_of_blocklengths, ptr array_of_displacements,"
    " ptr array_of_types, out Datatype newtype)"
)
MPI_Type_create_resized = c_function(
    "int MPI_Type_create_resized(Datatype oldtype, aint lb, aint extent, out Datatype newtype)"
)

# Large counts (MPI-4 ``_c`` routines, where the library has them)
MPI_Type_get_extent = c_function("int MPI_Type_get_extent(Datatype datatype, out aint lb, out aint extent)")

# MPI-4 routines, which some supported libraries lack (Open MPI 4.1: see ccall's ``since``)
MPI_Isendrecv = c_function(
    "int MPI_Isendrecv(ptr sendbuf, count sendcount, Datatype sendtype, int dest, int sendtag,"
    " ptr recvbuf, count recvcount, Datatype recvtype, int source, int recvtag, Comm comm, ptr request)",
    since="4.0",
)
MPI_Comm_idup = c_function("int MPI_Comm_idup(Comm comm, ptr newcomm, ptr request)")

# Non-blocking neighbourhood collectives (neighbor.py)
MPI_Ineighbor_allgather = c_function(
    "int MPI_Ineighbor_allgather(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm, ptr request)"
)
MPI_Ineighbor_allgatherv = c_function(
    "int MPI_Ineighbor_allgatherv(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
    " ptr displs, Datatype recvtype, Comm comm, ptr request)"
)
MPI_Ineighbor_alltoall = c_function(
    "int MPI_Ineighbor_alltoall(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
    " Datatype recvtype, Comm comm, ptr request)"
)
MPI_Ineighbor_alltoallv = c_function(
    "int MPI_Ineighbor_alltoallv(ptr sendbuf, ptr sendcounts, ptr sdispls, Datatype sendtype, ptr recvbuf,"
    " ptr recvcounts, ptr rdispls, Datatype recvtype, Comm comm, ptr request)"
)

# Partitioned point-to-point (partitioned.py); MPI_Count is 64-bit in every ABI: ``aint``
MPI_Psend_init = c_function(
    "int MPI_Psend_init(ptr buf, int partitions, aint count, Datatype datatype, int dest, int tag, Comm comm,"
    " Info info, ptr request)",
    since="4.0",
)
MPI_Precv_init = c_function(
    "int MPI_Precv_init(ptr buf, int partitions, aint count, Datatype datatype, int source, int tag, Comm comm,"
    " Info info, ptr request)",
    since="4.0",
)
MPI_Pready = c_function("int MPI_Pready(int partition, Request request)", since="4.0")
MPI_Pready_range = c_function(
    "int MPI_Pready_range(int partition_low, int partition_high, Request request)", since="4.0"
)
MPI_Pready_list = c_function("int MPI_Pready_list(int length, ptr partitions, Request request)", since="4.0")
MPI_Parrived = c_function("int MPI_Parrived(Request request, int partition, out int flag)", since="4.0")


# Persistent collectives (nonblocking.py, ireductions.py, neighbor.py): each the arguments of
# its non-blocking form, then MPI_Info, then the request; made by Start.call from that form's call
def _persistent(nonblocking, prototype: str) -> None:
    _PERSISTENT[nonblocking] = c_function(prototype, since="4.0")


_PERSISTENT: dict = {}
_persistent(MPI_Ibarrier, "int MPI_Barrier_init(Comm comm, Info info, ptr request)")
_persistent(
    MPI_Ibcast,
    "int MPI_Bcast_init(ptr buffer, count count, Datatype datatype, int root, Comm comm, Info info, ptr request)",
)
_persistent(
    MPI_Ireduce,
    "int MPI_Reduce_init(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, int root, Comm comm,"
    " Info info, ptr request)",
)
for _name in ("Allreduce", "Scan", "Exscan"):
    _persistent(
        globals()[f"MPI_I{_name.lower()}"],
        f"int MPI_{_name}_init(ptr sendbuf, ptr recvbuf, count count, Datatype datatype, Op op, Comm comm,"
        " Info info, ptr request)",
    )
_persistent(
    MPI_Ireduce_scatter_block,
    "int MPI_Reduce_scatter_block_init(ptr sendbuf, ptr recvbuf, count recvcount, Datatype datatype, Op op,"
    " Comm comm, Info info, ptr request)",
)
for _name in ("Gather", "Scatter"):
    _persistent(
        globals()[f"MPI_I{_name.lower()}"],
        f"int MPI_{_name}_init(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
        " Datatype recvtype, int root, Comm comm, Info info, ptr request)",
    )
for _name in ("Allgather", "Alltoall", "Neighbor_allgather", "Neighbor_alltoall"):
    _persistent(
        globals()[f"MPI_I{_name.lower()}"],
        f"int MPI_{_name}_init(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, count recvcount,"
        " Datatype recvtype, Comm comm, Info info, ptr request)",
    )
_persistent(
    MPI_Igatherv,
    "int MPI_Gatherv_init(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
    " ptr displs, Datatype recvtype, int root, Comm comm, Info info, ptr request)",
)
_persistent(
    MPI_Iscatterv,
    "int MPI_Scatterv_init(ptr sendbuf, ptr sendcounts, ptr displs, Datatype sendtype, ptr recvbuf,"
    " count recvcount, Datatype recvtype, int root, Comm comm, Info info, ptr request)",
)
for _name in ("Allgatherv", "Neighbor_allgatherv"):
    _persistent(
        globals()[f"MPI_I{_name.lower()}"],
        f"int MPI_{_name}_init(ptr sendbuf, count sendcount, Datatype sendtype, ptr recvbuf, ptr recvcounts,"
        " ptr displs, Datatype recvtype, Comm comm, Info info, ptr request)",
    )
for _name in ("Alltoallv", "Neighbor_alltoallv"):
    _persistent(
        globals()[f"MPI_I{_name.lower()}"],
        f"int MPI_{_name}_init(ptr sendbuf, ptr sendcounts, ptr sdispls, Datatype sendtype, ptr recvbuf,"
        " ptr recvcounts, ptr rdispls, Datatype recvtype, Comm comm, Info info, ptr request)",
    )


def persistent_form(nonblocking):
    """The MPI-4 ``_init`` routine of a non-blocking collective (``MPI_Ibcast`` -> ``MPI_Bcast_init``)."""
    return _PERSISTENT[nonblocking]


del _name

# MPI-IO (file.py). MPI_File is a pointer in every ABI: ``ptr`` by value, and the address
# of a file array's element where MPI writes it; MPI_Offset is 64-bit: ``aint``.
MPI_File_open = c_function("int MPI_File_open(Comm comm, ptr filename, int amode, Info info, ptr fh)")
MPI_File_close = c_function("int MPI_File_close(ptr fh)")
MPI_File_delete = c_function("int MPI_File_delete(ptr filename, Info info)")
MPI_File_set_size = c_function("int MPI_File_set_size(ptr fh, aint size)")
MPI_File_get_size = c_function("int MPI_File_get_size(ptr fh, out aint size)")
MPI_File_sync = c_function("int MPI_File_sync(ptr fh)")
MPI_File_get_amode = c_function("int MPI_File_get_amode(ptr fh, out int amode)")
MPI_File_set_view = c_function(
    "int MPI_File_set_view(ptr fh, aint disp, Datatype etype, Datatype filetype, ptr datarep, Info info)"
)
MPI_Type_create_subarray = c_function(
    "int MPI_Type_create_subarray(int ndims, ptr sizes, ptr subsizes, ptr starts, int order, Datatype oldtype,"
    " out Datatype newtype)"
)
MPI_Type_size = c_function("int MPI_Type_size(Datatype datatype, out int size)")
MPI_Type_create_hindexed_block = c_function(
    "int MPI_Type_create_hindexed_block(int count, int blocklength, ptr displacements, Datatype oldtype,"
    " out Datatype newtype)"
)
FILE_TRANSFERS = {}  # read, read_at_all, iwrite_all ...: the C routine of each (file.py makes the routines)
for _name in (f"{verb}{at}{every}" for verb in ("read", "write") for at in ("", "_at") for every in ("", "_all")):
    _offset = "aint offset, " if "_at" in _name else ""
    FILE_TRANSFERS[_name] = c_function(
        f"int MPI_File_{_name}(ptr fh, {_offset}ptr buf, count count, Datatype datatype, out Status status)"
    )
    FILE_TRANSFERS[f"i{_name}"] = c_function(  # the collective ones are MPI-3.1's
        f"int MPI_File_i{_name}(ptr fh, {_offset}ptr buf, count count, Datatype datatype, ptr request)",
        since="3.1" if _name.endswith("_all") else None,
    )
del _name, _offset
