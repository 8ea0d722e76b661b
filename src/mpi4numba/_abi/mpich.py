"""MPICH ABI (MPICH >= 3.1, Intel MPI, Cray MPICH, MVAPICH): handles are 32-bit integers.

Values are the ones ``mpi.h`` of these libraries defines; they are part of the MPICH ABI
compatibility initiative and do not change between releases.
"""

NAME = "mpich"
HANDLE_IS_POINTER = False
HANDLE_BYTES = 4

STATUS_BYTES = 20
STATUS_SOURCE_OFFSET = 8
STATUS_TAG_OFFSET = 12
STATUS_ERROR_OFFSET = 16

ANY_SOURCE = -2
ANY_TAG = -1
PROC_NULL = -1
UNDEFINED = -32766
IN_PLACE = -1  # (void *) -1
BOTTOM = 0
STATUS_IGNORE = 1  # (MPI_Status *) 1
STATUSES_IGNORE = 1
MAX_ERROR_STRING = 512

ERROR_CLASSES = {
    "SUCCESS": 0,
    "ERR_BUFFER": 1,
    "ERR_COUNT": 2,
    "ERR_TYPE": 3,
    "ERR_TAG": 4,
    "ERR_COMM": 5,
    "ERR_RANK": 6,
    "ERR_ROOT": 7,
    "ERR_OP": 9,
    "ERR_ARG": 12,
    "ERR_TRUNCATE": 14,
    "ERR_OTHER": 15,
    "ERR_REQUEST": 19,
    "ERR_GROUP": 8,
    "ERR_TOPOLOGY": 10,
    "ERR_DIMS": 11,
    "ERR_UNKNOWN": 13,
    "ERR_INTERN": 16,
    "ERR_IN_STATUS": 17,
    "ERR_PENDING": 18,
    "ERR_INFO": 28,
    "ERR_NO_MEM": 34,
    "ERR_WIN": 45,
    "ERR_BASE": 46,
    "ERR_LOCKTYPE": 47,
    "ERR_RMA_CONFLICT": 49,
    "ERR_RMA_SYNC": 50,
    "ERR_SIZE": 51,
    "ERR_DISP": 52,
    "ERR_ASSERT": 53,
    "ERR_RMA_RANGE": 55,
    "ERR_RMA_ATTACH": 56,
    "ERR_RMA_SHARED": 57,
    "ERR_RMA_FLAVOR": 58,
    "ERR_UNSUPPORTED_OPERATION": 44,
    "ERR_FILE": 27,
    "ERR_ACCESS": 20,
    "ERR_AMODE": 21,
    "ERR_BAD_FILE": 22,
    "ERR_FILE_EXISTS": 25,
    "ERR_FILE_IN_USE": 26,
    "ERR_NO_SPACE": 36,
    "ERR_NO_SUCH_FILE": 37,
    "ERR_IO": 32,
    "ERR_READ_ONLY": 40,
    "ERR_NOT_SAME": 35,
}

# Integer constants that differ between ABIs (communicator comparison, topologies, one-sided).
CONSTANTS = {
    "THREAD_SINGLE": 0,
    "THREAD_FUNNELED": 1,
    "THREAD_SERIALIZED": 2,
    "THREAD_MULTIPLE": 3,
    "COMM_TYPE_SHARED": 1,
    "IDENT": 0,
    "CONGRUENT": 1,
    "SIMILAR": 2,
    "UNEQUAL": 3,
    "GRAPH": 1,
    "CART": 2,
    "DIST_GRAPH": 3,
    "LOCK_EXCLUSIVE": 234,
    "LOCK_SHARED": 235,
    "MODE_NOCHECK": 1024,
    "MODE_NOSTORE": 2048,
    "MODE_NOPUT": 4096,
    "MODE_NOPRECEDE": 8192,
    "MODE_NOSUCCEED": 16384,
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
    "ORDER_C": 56,
    "ORDER_FORTRAN": 57,
}

# MPI_UNWEIGHTED / MPI_WEIGHTS_EMPTY: in MPICH these are global variables of libmpi holding the
# pointer (``extern int * const MPI_UNWEIGHTED``), so compiled code loads them by symbol name.
UNWEIGHTED = "MPI_UNWEIGHTED"
WEIGHTS_EMPTY = "MPI_WEIGHTS_EMPTY"

# MPI-4 large-count routines (``MPI_Send_c`` ...) with ``MPI_Count`` (64-bit) counts: MPICH >= 4.
LARGE_COUNT_ROUTINES = True

# Predefined handles: integer constants of the ABI.
HANDLES = {
    "COMM_NULL": 0x04000000,
    "COMM_WORLD": 0x44000000,
    "COMM_SELF": 0x44000001,
    "REQUEST_NULL": 0x2C000000,
    "MESSAGE_NULL": 0x2C000000,
    "MESSAGE_NO_PROC": 0x6C000000,
    "DATATYPE_NULL": 0x0C000000,
    "OP_NULL": 0x18000000,
    "ERRORS_RETURN": 0x54000001,
    "BYTE": 0x4C00010D,
    "CHAR": 0x4C000101,
    "C_BOOL": 0x4C00013F,
    "INT8_T": 0x4C000137,
    "INT16_T": 0x4C000238,
    "INT32_T": 0x4C000439,
    "INT64_T": 0x4C00083A,
    "UINT8_T": 0x4C00013B,
    "UINT16_T": 0x4C00023C,
    "UINT32_T": 0x4C00043D,
    "UINT64_T": 0x4C00083E,
    "FLOAT": 0x4C00040A,
    "DOUBLE": 0x4C00080B,
    "C_FLOAT_COMPLEX": 0x4C000840,
    "C_DOUBLE_COMPLEX": 0x4C001041,
    "MAX": 0x58000001,
    "MIN": 0x58000002,
    "SUM": 0x58000003,
    "PROD": 0x58000004,
    "LAND": 0x58000005,
    "BAND": 0x58000006,
    "LOR": 0x58000007,
    "BOR": 0x58000008,
    "LXOR": 0x58000009,
    "BXOR": 0x5800000A,
    "MINLOC": 0x5800000B,
    "MAXLOC": 0x5800000C,
    "REPLACE": 0x5800000D,
    "NO_OP": 0x5800000E,
    "INT": 0x4C000405,
    "FLOAT_INT": 0x8C000000,
    "DOUBLE_INT": 0x8C000001,
    "LONG_INT": 0x8C000002,
    "SHORT_INT": 0x8C000003,
    "TWOINT": 0x4C000816,
    "LONG_DOUBLE_INT": 0x8C000004,
    "WIN_NULL": 0x20000000,
    "GROUP_NULL": 0x08000000,
    "GROUP_EMPTY": 0x48000000,
    "INFO_NULL": 0x1C000000,
}
