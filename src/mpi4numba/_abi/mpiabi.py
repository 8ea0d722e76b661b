"""The MPI-5 standard ABI (``mpi_abi.h``, ABI version 1.0): one ABI for every library that
implements it (MPICH's ``libmpi_abi``, Open MPI >= 6, Intel MPI's preview).

Handles are pointers to incomplete structs; the predefined ones are small integer constants
the standard fixes (``MPI_COMM_WORLD`` is ``(MPI_Comm)0x101``), so compiled code holds them as
constants, the same in every process and every library. ``MPI_Status`` is 32 bytes.
"""

NAME = "mpiabi"
HANDLE_IS_POINTER = True
HANDLE_BYTES = 8
# the standard ABI version these values are from (``MPI_Abi_get_version``); a library of a later
# minor version of ABI 1 keeps them
VERSION = (1, 0)

STATUS_BYTES = 32
STATUS_SOURCE_OFFSET = 0
STATUS_TAG_OFFSET = 4
STATUS_ERROR_OFFSET = 8

ANY_SOURCE = -1
ANY_TAG = -2
PROC_NULL = -3
UNDEFINED = -32766
IN_PLACE = 1  # (void *) 1
BOTTOM = 0
STATUS_IGNORE = 0  # (MPI_Status *) 0
STATUSES_IGNORE = 0
MAX_ERROR_STRING = 512

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
    "ERR_IN_STATUS": 19,
    "ERR_PENDING": 18,
    "ERR_INFO": 34,
    "ERR_NO_MEM": 39,
    "ERR_WIN": 56,
    "ERR_BASE": 24,
    "ERR_LOCKTYPE": 37,
    "ERR_RMA_CONFLICT": 47,
    "ERR_RMA_SYNC": 50,
    "ERR_SIZE": 52,
    "ERR_DISP": 26,
    "ERR_ASSERT": 22,
    "ERR_RMA_RANGE": 48,
    "ERR_RMA_ATTACH": 46,
    "ERR_RMA_SHARED": 49,
    "ERR_RMA_FLAVOR": 57,
    "ERR_UNSUPPORTED_OPERATION": 55,
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

CONSTANTS = {
    "THREAD_SINGLE": 0,
    "THREAD_FUNNELED": 1024,
    "THREAD_SERIALIZED": 2048,
    "THREAD_MULTIPLE": 4096,
    "COMM_TYPE_SHARED": 221,
    "IDENT": 201,
    "CONGRUENT": 202,
    "SIMILAR": 203,
    "UNEQUAL": 204,
    "GRAPH": 212,
    "CART": 211,
    "DIST_GRAPH": 213,
    "LOCK_EXCLUSIVE": 301,
    "LOCK_SHARED": 302,
    "MODE_NOCHECK": 1024,
    "MODE_NOSTORE": 8192,
    "MODE_NOPUT": 4096,
    "MODE_NOPRECEDE": 2048,
    "MODE_NOSUCCEED": 16384,
    # MPI-IO: access modes of file_open, array orders of subarray views
    "MODE_RDONLY": 16,
    "MODE_RDWR": 32,
    "MODE_WRONLY": 256,
    "MODE_CREATE": 2,
    "MODE_EXCL": 8,
    "MODE_DELETE_ON_CLOSE": 4,
    "MODE_UNIQUE_OPEN": 128,
    "MODE_APPEND": 1,
    "MODE_SEQUENTIAL": 64,
    "ORDER_C": 12,
    "ORDER_FORTRAN": 15,
}

# constant pointers of mpi_abi.h: ((int *) 10) and ((int *) 11)
UNWEIGHTED = 10
WEIGHTS_EMPTY = 11

# MPI-4 large-count routines (``MPI_Send_c`` ...): part of the standard ABI (MPI_Count is 64-bit);
# runtime still checks that the library exports them
LARGE_COUNT_ROUTINES = True

# Predefined handles: integer constants of the standard, used as pointers.
HANDLES = {
    "COMM_NULL": 0x100,
    "COMM_WORLD": 0x101,
    "COMM_SELF": 0x102,
    "REQUEST_NULL": 0x180,
    "MESSAGE_NULL": 0x128,
    "MESSAGE_NO_PROC": 0x129,
    "DATATYPE_NULL": 0x200,
    "OP_NULL": 0x20,
    "ERRORS_RETURN": 0x143,
    "BYTE": 0x247,
    "CHAR": 0x243,
    "C_BOOL": 0x238,
    "INT8_T": 0x240,
    "INT16_T": 0x248,
    "INT32_T": 0x250,
    "INT64_T": 0x258,
    "UINT8_T": 0x241,
    "UINT16_T": 0x249,
    "UINT32_T": 0x251,
    "UINT64_T": 0x259,
    "FLOAT": 0x210,
    "DOUBLE": 0x214,
    "C_FLOAT_COMPLEX": 0x212,
    "C_DOUBLE_COMPLEX": 0x216,
    "MAX": 0x23,
    "MIN": 0x22,
    "SUM": 0x21,
    "PROD": 0x24,
    "LAND": 0x30,
    "BAND": 0x28,
    "LOR": 0x31,
    "BOR": 0x29,
    "LXOR": 0x32,
    "BXOR": 0x2A,
    "MINLOC": 0x38,
    "MAXLOC": 0x39,
    "REPLACE": 0x3C,
    "NO_OP": 0x3D,
    "INT": 0x209,
    "FLOAT_INT": 0x228,
    "DOUBLE_INT": 0x229,
    "LONG_INT": 0x22A,
    "SHORT_INT": 0x22C,
    "TWOINT": 0x22B,
    "LONG_DOUBLE_INT": 0x22D,
    "WIN_NULL": 0x110,
    "GROUP_NULL": 0x108,
    "GROUP_EMPTY": 0x109,
    "INFO_NULL": 0x130,
}
