"""Open MPI ABI (Open MPI >= 4): handles are pointers to global objects of ``libmpi``.

Compiled code takes the address of these objects by symbol name, so the value is
resolved in each process when the code is loaded (also from Numba's cache).
"""

NAME = "openmpi"
HANDLE_IS_POINTER = True
HANDLE_BYTES = 8

STATUS_BYTES = 24
STATUS_SOURCE_OFFSET = 0
STATUS_TAG_OFFSET = 4
STATUS_ERROR_OFFSET = 8

ANY_SOURCE = -1
ANY_TAG = -1
PROC_NULL = -2
UNDEFINED = -32766
IN_PLACE = 1  # (void *) 1
BOTTOM = 0
STATUS_IGNORE = 0  # (MPI_Status *) 0
STATUSES_IGNORE = 0
MAX_ERROR_STRING = 256

ERROR_CLASSES = {
    "SUCCESS": 0,
    "ERR_BUFFER": 1,
    "ERR_COUNT": 2,
    "ERR_TYPE": 3,
    "ERR_TAG": 4,
    "ERR_COMM": 5,
    "ERR_RANK": 6,
    "ERR_ROOT": 8,
    "ERR_OP": 10,
    "ERR_ARG": 13,
    "ERR_TRUNCATE": 15,
    "ERR_OTHER": 16,
    "ERR_REQUEST": 7,
    "ERR_GROUP": 9,
    "ERR_TOPOLOGY": 11,
    "ERR_DIMS": 12,
    "ERR_UNKNOWN": 14,
    "ERR_INTERN": 17,
    "ERR_IN_STATUS": 18,
    "ERR_PENDING": 19,
    "ERR_INFO": 34,
    "ERR_NO_MEM": 39,
    "ERR_WIN": 53,
    "ERR_BASE": 24,
    "ERR_LOCKTYPE": 37,
    "ERR_RMA_CONFLICT": 46,
    "ERR_RMA_SYNC": 47,
    "ERR_SIZE": 49,
    "ERR_DISP": 26,
    "ERR_ASSERT": 22,
    "ERR_RMA_RANGE": 68,
    "ERR_RMA_ATTACH": 69,
    "ERR_RMA_SHARED": 71,
    "ERR_RMA_FLAVOR": 70,
    "ERR_UNSUPPORTED_OPERATION": 52,
    "ERR_FILE": 30,
    "ERR_ACCESS": 20,
    "ERR_AMODE": 21,
    "ERR_BAD_FILE": 23,
    "ERR_FILE_EXISTS": 28,
    "ERR_FILE_IN_USE": 29,
    "ERR_NO_SPACE": 41,
    "ERR_NO_SUCH_FILE": 42,
    "ERR_IO": 35,
    "ERR_READ_ONLY": 45,
    "ERR_NOT_SAME": 40,
}

# Integer constants that differ between ABIs (communicator comparison, topologies, one-sided).
CONSTANTS = {
    "THREAD_SINGLE": 0,
    "THREAD_FUNNELED": 1,
    "THREAD_SERIALIZED": 2,
    "THREAD_MULTIPLE": 3,
    "COMM_TYPE_SHARED": 0,
    "IDENT": 0,
    "CONGRUENT": 1,
    "SIMILAR": 2,
    "UNEQUAL": 3,
    "GRAPH": 2,
    "CART": 1,
    "DIST_GRAPH": 3,
    "LOCK_EXCLUSIVE": 1,
    "LOCK_SHARED": 2,
    "MODE_NOCHECK": 1,
    "MODE_NOSTORE": 8,
    "MODE_NOPUT": 4,
    "MODE_NOPRECEDE": 2,
    "MODE_NOSUCCEED": 16,
    # MPI-IO: access modes of file_open, array orders of subarray views
    "MODE_RDONLY": 2,
    "MODE_RDWR": 8,
    "MODE_WRONLY": 4,
    "MODE_CREATE": 1,
    "MODE_EXCL": 64,
    "MODE_DELETE_ON_CLOSE": 16,
    "MODE_UNIQUE_OPEN": 32,
    "MODE_APPEND": 128,
    "MODE_SEQUENTIAL": 256,
    "ORDER_C": 0,
    "ORDER_FORTRAN": 1,
}

# MPI_UNWEIGHTED / MPI_WEIGHTS_EMPTY: constant pointers in Open MPI's mpi.h.
UNWEIGHTED = 2
WEIGHTS_EMPTY = 3

# Open MPI 5.0 has no MPI-4 large-count (``_c``) routines: large messages use derived datatypes.
LARGE_COUNT_ROUTINES = False

# Predefined handles: names of the global objects whose address is the handle.
HANDLES = {
    "COMM_NULL": "ompi_mpi_comm_null",
    "COMM_WORLD": "ompi_mpi_comm_world",
    "COMM_SELF": "ompi_mpi_comm_self",
    "REQUEST_NULL": "ompi_request_null",
    "MESSAGE_NULL": "ompi_message_null",
    "MESSAGE_NO_PROC": "ompi_message_no_proc",
    "DATATYPE_NULL": "ompi_mpi_datatype_null",
    "OP_NULL": "ompi_mpi_op_null",
    "ERRORS_RETURN": "ompi_mpi_errors_return",
    "BYTE": "ompi_mpi_byte",
    "CHAR": "ompi_mpi_char",
    "C_BOOL": "ompi_mpi_c_bool",
    "INT8_T": "ompi_mpi_int8_t",
    "INT16_T": "ompi_mpi_int16_t",
    "INT32_T": "ompi_mpi_int32_t",
    "INT64_T": "ompi_mpi_int64_t",
    "UINT8_T": "ompi_mpi_uint8_t",
    "UINT16_T": "ompi_mpi_uint16_t",
    "UINT32_T": "ompi_mpi_uint32_t",
    "UINT64_T": "ompi_mpi_uint64_t",
    "FLOAT": "ompi_mpi_float",
    "DOUBLE": "ompi_mpi_double",
    "C_FLOAT_COMPLEX": "ompi_mpi_c_float_complex",
    "C_DOUBLE_COMPLEX": "ompi_mpi_c_double_complex",
    "MAX": "ompi_mpi_op_max",
    "MIN": "ompi_mpi_op_min",
    "SUM": "ompi_mpi_op_sum",
    "PROD": "ompi_mpi_op_prod",
    "LAND": "ompi_mpi_op_land",
    "BAND": "ompi_mpi_op_band",
    "LOR": "ompi_mpi_op_lor",
    "BOR": "ompi_mpi_op_bor",
    "LXOR": "ompi_mpi_op_lxor",
    "BXOR": "ompi_mpi_op_bxor",
    "MINLOC": "ompi_mpi_op_minloc",
    "MAXLOC": "ompi_mpi_op_maxloc",
    "REPLACE": "ompi_mpi_op_replace",
    "NO_OP": "ompi_mpi_op_no_op",
    "INT": "ompi_mpi_int",
    "FLOAT_INT": "ompi_mpi_float_int",
    "DOUBLE_INT": "ompi_mpi_double_int",
    "LONG_INT": "ompi_mpi_long_int",
    "SHORT_INT": "ompi_mpi_short_int",
    "TWOINT": "ompi_mpi_2int",
    "LONG_DOUBLE_INT": "ompi_mpi_longdbl_int",
    "WIN_NULL": "ompi_mpi_win_null",
    "GROUP_NULL": "ompi_mpi_group_null",
    "GROUP_EMPTY": "ompi_mpi_group_empty",
    "INFO_NULL": "ompi_mpi_info_null",
}
