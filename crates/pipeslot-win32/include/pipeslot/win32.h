/*
 * pipeslot/win32.h -- the Win32 IPC C API on Linux (libpipeslot_win32).
 *
 * Declares what libpipeslot_win32 exports, plus the Interlocked* and
 * critical-section functions, which are static inline here. Behaviour and
 * GetLastError codes follow docs/win32-semantics.md (S1..S172).
 *
 * NOT YET PROVIDED (absent, not stubbed; programs using them do not link):
 *   overlapped   -- on files, standard handles and mailslot writers
 *                   (ERROR_NOT_SUPPORTED); ReadFileEx/WriteFileEx, APCs
 *   threads      -- CREATE_SUSPENDED (ERROR_NOT_SUPPORTED), ResumeThread,
 *                   ExitThread, GetCurrentThreadId
 *   events       -- named events, mutexes, semaphores
 *   Unicode      -- <tchar.h> under _UNICODE covers the common string
 *                   and stdio functions only (see compat/tchar.h)
 *
 * Names: pipes and mailslots live in pipeslot's namespaces ($PIPESLOT_ROOT
 * when set). Instances of one pipe name may be created by several
 * processes of the same user (S21; another user's: ERROR_ACCESS_DENIED);
 * when the process that created the first instance ends, another process
 * with instances takes the name over (they keep their clients), so the
 * name lives while any instance does (S27; for a moment clients find no
 * name). An instance a child inherited while listening is not carried
 * over then: it keeps its client, and ConnectNamedPipe on it fails with
 * ERROR_BROKEN_PIPE.
 *
 * Inheritance (S19, S133): CreateProcessA with bInheritHandles TRUE gives
 * a child linked with this library every inheritable handle under the
 * same value -- anonymous pipe ends, files, named-pipe client ends,
 * connected named-pipe instances, mailslots and mailslot writers -- and
 * they are inheritable again in the child. Parent and child share each
 * connection (its peer sees it closed once both closed it) and each
 * mailslot (its name lives while either holds it; one read timeout, S152).
 * Data the parent had received but not read when the child started is
 * copied to the child: a parent and child that both go on reading one
 * pipe end may both see it. A named-pipe instance still waiting for its
 * client moves to the child, which serves it from then on (S19; Windows
 * would let both use it): the parent's ConnectNamedPipe on it gives
 * ERROR_NOT_SUPPORTED, and closing the parent's handle leaves it. An
 * inherited *connected* instance serves its client, and its
 * ConnectNamedPipe gives ERROR_NOT_SUPPORTED (waiting for new clients
 * stays with the parent). NOT passed: process and thread handles
 * (ERROR_INVALID_HANDLE in the child). A program not linked with the library gets the descriptors of
 * anonymous pipes and files only.
 *
 * Conventions of every function below:
 *   - On failure the calling thread's last error is set and the failure
 *     value returned (FALSE, 0, INVALID_HANDLE_VALUE, WAIT_FAILED); on
 *     success the last error is left unchanged.
 *   - No panic crosses into C: an internal bug gives ERROR_GEN_FAILURE (31).
 *   - HANDLEs are opaque table entries, never file descriptors; a closed,
 *     stale or wrong-kind handle gives ERROR_INVALID_HANDLE.
 *   - Optional out parameters accept NULL; a NULL buffer with a non-zero
 *     length gives ERROR_INVALID_PARAMETER.
 */
#ifndef PIPESLOT_WIN32_H
#define PIPESLOT_WIN32_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Calling convention and types ------------------------------------ */

#define WINAPI
#define CALLBACK
#define WINBASEAPI

typedef void *HANDLE;
typedef HANDLE *PHANDLE;
typedef HANDLE *LPHANDLE;
typedef HANDLE HLOCAL;
typedef int BOOL;
typedef BOOL *LPBOOL;
typedef unsigned char BYTE;
typedef BYTE *LPBYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef DWORD *LPDWORD;
typedef DWORD *PDWORD;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef ULONG *PULONG;
typedef uint32_t UINT;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef uintptr_t ULONG_PTR;
typedef ULONG_PTR *PULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef void VOID;
typedef void *PVOID;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef char CHAR;
typedef const char *LPCSTR;
typedef char *LPSTR;
/* WCHAR is a UTF-16 code unit, 16 bits as on Windows (not wchar_t: on
   Linux wchar_t is 32 bits unless the program is built with
   -fshort-wchar, which makes L"..." literals WCHAR strings). */
typedef uint16_t WCHAR;
typedef const WCHAR *LPCWSTR;
typedef WCHAR *LPWSTR;
#ifdef _UNICODE
/* _UNICODE builds (see compat/tchar.h): TCHAR is WCHAR. */
typedef WCHAR TCHAR;
typedef const WCHAR *LPCTSTR;
typedef WCHAR *LPTSTR;
#else
typedef char TCHAR;
typedef const char *LPCTSTR;
typedef char *LPTSTR;
#endif

typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    struct {
        DWORD LowPart;
        LONG HighPart;
    };
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef struct _SECURITY_ATTRIBUTES {
    DWORD nLength;
    LPVOID lpSecurityDescriptor;
    BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

typedef struct _OVERLAPPED {
    ULONG_PTR Internal;
    ULONG_PTR InternalHigh;
    union {
        struct {
            DWORD Offset;
            DWORD OffsetHigh;
        };
        PVOID Pointer;
    };
    HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;

typedef struct _STARTUPINFOA {
    DWORD cb;
    LPSTR lpReserved;
    LPSTR lpDesktop;
    LPSTR lpTitle;
    DWORD dwX;
    DWORD dwY;
    DWORD dwXSize;
    DWORD dwYSize;
    DWORD dwXCountChars;
    DWORD dwYCountChars;
    DWORD dwFillAttribute;
    DWORD dwFlags;
    WORD wShowWindow;
    WORD cbReserved2;
    LPBYTE lpReserved2;
    HANDLE hStdInput;
    HANDLE hStdOutput;
    HANDLE hStdError;
} STARTUPINFOA, *LPSTARTUPINFOA;

typedef struct _STARTUPINFOW {
    DWORD cb;
    LPWSTR lpReserved;
    LPWSTR lpDesktop;
    LPWSTR lpTitle;
    DWORD dwX;
    DWORD dwY;
    DWORD dwXSize;
    DWORD dwYSize;
    DWORD dwXCountChars;
    DWORD dwYCountChars;
    DWORD dwFillAttribute;
    DWORD dwFlags;
    WORD wShowWindow;
    WORD cbReserved2;
    LPBYTE lpReserved2;
    HANDLE hStdInput;
    HANDLE hStdOutput;
    HANDLE hStdError;
} STARTUPINFOW, *LPSTARTUPINFOW;

typedef struct _PROCESS_INFORMATION {
    HANDLE hProcess;
    HANDLE hThread;      /* the main thread: ends with the process */
    DWORD dwProcessId;
    DWORD dwThreadId;    /* the main thread's id: the process id */
} PROCESS_INFORMATION, *PPROCESS_INFORMATION, *LPPROCESS_INFORMATION;

typedef DWORD (WINAPI *PTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);
typedef PTHREAD_START_ROUTINE LPTHREAD_START_ROUTINE;

/* ---- Constants ------------------------------------------------------- */

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)
#define INFINITE 0xFFFFFFFFu
#define WAIT_OBJECT_0 0u
#define WAIT_ABANDONED 0x80u
#define WAIT_TIMEOUT 258u
#define WAIT_FAILED 0xFFFFFFFFu
#define STILL_ACTIVE 259u
#define MAXIMUM_WAIT_OBJECTS 64
#define CREATE_SUSPENDED 0x00000004u
#define MAX_PATH 260

#define GENERIC_READ 0x80000000u
#define GENERIC_WRITE 0x40000000u
#define FILE_SHARE_READ 0x00000001u
#define FILE_SHARE_WRITE 0x00000002u
#define CREATE_NEW 1u
#define CREATE_ALWAYS 2u
#define OPEN_EXISTING 3u
#define OPEN_ALWAYS 4u
#define TRUNCATE_EXISTING 5u
#define FILE_ATTRIBUTE_NORMAL 0x00000080u
#define FILE_ATTRIBUTE_TEMPORARY 0x00000100u
#define GENERIC_ALL 0x10000000u
#define FILE_WRITE_ATTRIBUTES 0x00000100u
#define WRITE_DAC 0x00040000u
#define WRITE_OWNER 0x00080000u
#define ACCESS_SYSTEM_SECURITY 0x01000000u

#define STD_INPUT_HANDLE ((DWORD)-10)
#define STD_OUTPUT_HANDLE ((DWORD)-11)
#define STD_ERROR_HANDLE ((DWORD)-12)
#define STARTF_USESTDHANDLES 0x00000100u

/* Pipe and mailslot constants (spec section 0.1). */
#define PIPE_ACCESS_INBOUND 0x00000001u
#define PIPE_ACCESS_OUTBOUND 0x00000002u
#define PIPE_ACCESS_DUPLEX 0x00000003u
#define FILE_FLAG_FIRST_PIPE_INSTANCE 0x00080000u
#define FILE_FLAG_OVERLAPPED 0x40000000u
#define FILE_FLAG_WRITE_THROUGH 0x80000000u
#define PIPE_TYPE_BYTE 0x00000000u
#define PIPE_TYPE_MESSAGE 0x00000004u
#define PIPE_READMODE_BYTE 0x00000000u
#define PIPE_READMODE_MESSAGE 0x00000002u
#define PIPE_WAIT 0x00000000u
#define PIPE_NOWAIT 0x00000001u
#define PIPE_ACCEPT_REMOTE_CLIENTS 0x00000000u
#define PIPE_REJECT_REMOTE_CLIENTS 0x00000008u
#define PIPE_UNLIMITED_INSTANCES 255u
#define NMPWAIT_USE_DEFAULT_WAIT 0x00000000u
#define NMPWAIT_NOWAIT 0x00000001u
#define NMPWAIT_WAIT_FOREVER 0xFFFFFFFFu
#define PIPE_CLIENT_END 0x00000000u
#define PIPE_SERVER_END 0x00000001u
#define MAILSLOT_NO_MESSAGE ((DWORD)-1)
#define MAILSLOT_WAIT_FOREVER ((DWORD)-1)

/* FormatMessageA flags and language ids. */
#define FORMAT_MESSAGE_ALLOCATE_BUFFER 0x00000100u
#define FORMAT_MESSAGE_IGNORE_INSERTS 0x00000200u
#define FORMAT_MESSAGE_FROM_STRING 0x00000400u
#define FORMAT_MESSAGE_FROM_HMODULE 0x00000800u
#define FORMAT_MESSAGE_FROM_SYSTEM 0x00001000u
#define FORMAT_MESSAGE_ARGUMENT_ARRAY 0x00002000u
#define FORMAT_MESSAGE_MAX_WIDTH_MASK 0x000000FFu
#define LANG_NEUTRAL 0x00
#define SUBLANG_DEFAULT 0x01
#define MAKELANGID(p, s) ((((WORD)(s)) << 10) | (WORD)(p))

/* Error codes: every code of spec section 0.1, plus the others returned. */
#define ERROR_SUCCESS 0L
#define NO_ERROR 0L
#define ERROR_INVALID_FUNCTION 1L
#define ERROR_FILE_NOT_FOUND 2L
#define ERROR_PATH_NOT_FOUND 3L
#define ERROR_TOO_MANY_OPEN_FILES 4L
#define ERROR_ACCESS_DENIED 5L
#define ERROR_INVALID_HANDLE 6L
#define ERROR_NOT_ENOUGH_MEMORY 8L
#define ERROR_WRITE_PROTECT 19L
#define ERROR_FILE_EXISTS 80L
#define ERROR_GEN_FAILURE 31L
#define ERROR_SHARING_VIOLATION 32L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_BAD_NETPATH 53L
#define ERROR_INVALID_PARAMETER 87L
#define ERROR_BROKEN_PIPE 109L
#define ERROR_BUFFER_OVERFLOW 111L
#define ERROR_DISK_FULL 112L
#define ERROR_SEM_TIMEOUT 121L
#define ERROR_INSUFFICIENT_BUFFER 122L
#define ERROR_INVALID_NAME 123L
#define ERROR_BAD_PATHNAME 161L
#define ERROR_ALREADY_EXISTS 183L
#define ERROR_FILENAME_EXCED_RANGE 206L
#define ERROR_BAD_PIPE 230L
#define ERROR_PIPE_BUSY 231L
#define ERROR_NO_DATA 232L
#define ERROR_PIPE_NOT_CONNECTED 233L
#define ERROR_MORE_DATA 234L
#define ERROR_DIRECTORY 267L
#define ERROR_MR_MID_NOT_FOUND 317L
#define ERROR_PIPE_CONNECTED 535L
#define ERROR_PIPE_LISTENING 536L
#define ERROR_OPERATION_ABORTED 995L
#define ERROR_IO_INCOMPLETE 996L
#define ERROR_IO_PENDING 997L
#define ERROR_NOT_FOUND 1168L
#define ERROR_CANNOT_IMPERSONATE 1368L

/* ---- Last error ------------------------------------------------------ */

/* The calling thread's last-error code. */
DWORD WINAPI GetLastError(void);
/* Sets the calling thread's last-error code. */
void WINAPI SetLastError(DWORD dwErrCode);

/* ---- Handles and anonymous pipes (S129-S138) ------------------------- */

/* Closes a handle; a second close, or any later use, gives
   ERROR_INVALID_HANDLE. A GetStdHandle handle: TRUE, and it stays open.
   Closing a named-pipe handle (instance or connected end) or a mailslot
   handle wakes the blocking calls other threads are in on it at once:
   ConnectNamedPipe fails with ERROR_BROKEN_PIPE (S168), ReadFile/
   WriteFile/TransactNamedPipe/FlushFileBuffers with
   ERROR_OPERATION_ABORTED (T12), a mailslot ReadFile too (waiting
   forever or for its read timeout); a call that starts on it after the
   close: ERROR_INVALID_HANDLE. */
BOOL WINAPI CloseHandle(HANDLE hObject);
/* Anonymous byte pipe; read end = server end, write end = client end
   (S130); nSize is a hint, 0 = default, reported as 4096 (S131); handles
   inheritable only with lpPipeAttributes->bInheritHandle TRUE (S133).
   NULL hReadPipe/hWritePipe: ERROR_INVALID_PARAMETER. */
BOOL WINAPI CreatePipe(PHANDLE hReadPipe, PHANDLE hWritePipe,
                       LPSECURITY_ATTRIBUTES lpPipeAttributes, DWORD nSize);
/* Reads from a pipe read end, named-pipe end, mailslot, file or standard
   handle; blocks until data, may return fewer bytes (S58-S60, S134); at
   end of data FALSE + ERROR_BROKEN_PIPE (S135, S80); message read mode: at
   most one message, a longer one FALSE + ERROR_MORE_DATA with
   *lpNumberOfBytesRead = bytes copied (S61-S63); PIPE_NOWAIT empty:
   ERROR_NO_DATA (S76); mailslot: ERROR_SEM_TIMEOUT after the read timeout
   (S145-S147), ERROR_INSUFFICIENT_BUFFER leaving the message queued
   (S150); file: TRUE with 0 bytes at end of file; otherwise
   *lpNumberOfBytesRead = 0 on failure (S69); write end, mailslot writer or
   file without GENERIC_READ: ERROR_ACCESS_DENIED (S132, S154); an
   lpOverlapped given with an anonymous pipe is ignored (S137); with a
   named-pipe handle see "Overlapped I/O"; with other handles:
   ERROR_NOT_SUPPORTED. */
BOOL WINAPI ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead,
                     LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped);
/* Writes to a pipe write end, named-pipe end, mailslot writer, file or
   standard handle, blocking while the pipe is full (S136, S72); one write
   is one message on message pipes and mailslots (S61, S148, S149);
   PIPE_NOWAIT and no room: TRUE with *written = 0 (S77); no reader left:
   FALSE + ERROR_NO_DATA, never SIGPIPE (S129, S81); read end, mailslot or
   file without GENERIC_WRITE: ERROR_ACCESS_DENIED (S132, S153); an
   lpOverlapped given with an anonymous pipe is ignored (S137); with a
   named-pipe handle see "Overlapped I/O"; with other handles:
   ERROR_NOT_SUPPORTED. */
BOOL WINAPI WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite,
                      LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped);
/* Copies queued bytes of a pipe read end or named-pipe end without
   consuming them; returns at once, empty pipe (0,0,0) (S89-S95, S97, S138);
   message pipes peek the first message (S92-S94); listening or
   disconnected server: ERROR_BAD_PIPE, disconnected client:
   ERROR_PIPE_NOT_CONNECTED, other end gone and nothing left:
   ERROR_BROKEN_PIPE (S96); for byte pipes BytesLeftThisMessage is
   (DWORD)(0 - bytesRead) (S91). All outputs optional. */
BOOL WINAPI PeekNamedPipe(HANDLE hNamedPipe, LPVOID lpBuffer, DWORD nBufferSize,
                          LPDWORD lpBytesRead, LPDWORD lpTotalBytesAvail,
                          LPDWORD lpBytesLeftThisMessage);
/* Flags (PIPE_SERVER_END | PIPE_TYPE_MESSAGE bits), buffer sizes as given
   and max instances of a named-pipe end (S105-S108) or an anonymous pipe
   end (read end = server end; S130, S131, S138). All outputs optional. */
BOOL WINAPI GetNamedPipeInfo(HANDLE hNamedPipe, LPDWORD lpFlags, LPDWORD lpOutBufferSize,
                             LPDWORD lpInBufferSize, LPDWORD lpMaxInstances);
/* The handle of descriptor 0, 1 or 2 (same value each call; inheritable);
   in a child given a pipe or mailslot handle as a standard handle, that
   handle (S133); another nStdHandle: INVALID_HANDLE_VALUE +
   ERROR_INVALID_HANDLE. */
HANDLE WINAPI GetStdHandle(DWORD nStdHandle);

/* ---- Named pipes (S1-S128) ---------------------------------------------- */

/* New instance of \\.\pipe\NAME. NULL name: ERROR_PATH_NOT_FOUND (S10);
   malformed: ERROR_INVALID_NAME (S9); > 256 chars:
   ERROR_FILENAME_EXCED_RANGE; access bits 0 or undocumented bits in
   dwOpenMode/dwPipeMode, PIPE_TYPE_BYTE|PIPE_READMODE_MESSAGE,
   nMaxInstances outside 1..255: ERROR_INVALID_PARAMETER (S12, S13, S15);
   instance limit: ERROR_PIPE_BUSY (S22); other access mode than the
   existing instances', or FILE_FLAG_FIRST_PIPE_INSTANCE on an existing
   name: ERROR_ACCESS_DENIED (S23, S25). Listens at once (S29). On success
   sets ERROR_SUCCESS for the first instance, ERROR_ALREADY_EXISTS for a
   later one (S20). FILE_FLAG_OVERLAPPED makes an overlapped handle (see
   "Overlapped I/O"); WRITE_DAC, ACCESS_SYSTEM_SECURITY accepted and
   ignored; nDefaultTimeOut 0 = 50 ms (S16). */
HANDLE WINAPI CreateNamedPipeA(LPCSTR lpName, DWORD dwOpenMode, DWORD dwPipeMode,
                               DWORD nMaxInstances, DWORD nOutBufferSize, DWORD nInBufferSize,
                               DWORD nDefaultTimeOut, LPSECURITY_ATTRIBUTES lpSecurityAttributes);
/* Waits for a client (S41, S44); already connected: FALSE +
   ERROR_PIPE_CONNECTED, usable (S42); client gone: ERROR_NO_DATA (S43);
   PIPE_NOWAIT and none: ERROR_PIPE_LISTENING (S47); client handle:
   ERROR_INVALID_FUNCTION (S34); lpOverlapped: see "Overlapped I/O";
   an instance inherited from the parent: ERROR_NOT_SUPPORTED. */
BOOL WINAPI ConnectNamedPipe(HANDLE hNamedPipe, LPOVERLAPPED lpOverlapped);
/* Ends the connection, discarding unread data (S49-S53); again:
   ERROR_PIPE_NOT_CONNECTED (S51); client handle: ERROR_INVALID_FUNCTION. */
BOOL WINAPI DisconnectNamedPipe(HANDLE hNamedPipe);
/* \\host\pipe\NAME: client end, GENERIC_READ/WRITE checked against the
   pipe direction (S32), byte read mode and blocking (S33); no instance:
   ERROR_FILE_NOT_FOUND (S28); none listening: ERROR_PIPE_BUSY (S30); other
   host: ERROR_BAD_NETPATH. \\host\mailslot\NAME: a writer (S154); none:
   ERROR_FILE_NOT_FOUND (S155). Other paths: an ordinary file, with the
   usual dispositions (CREATE_NEW existing: ERROR_FILE_EXISTS;
   CREATE_ALWAYS/OPEN_ALWAYS existing: success + ERROR_ALREADY_EXISTS;
   TRUNCATE_EXISTING needs GENERIC_WRITE; directory: ERROR_ACCESS_DENIED).
   dwShareMode, attributes, flags and hTemplateFile are ignored; NULL name:
   ERROR_PATH_NOT_FOUND; bad disposition: ERROR_INVALID_PARAMETER. */
HANDLE WINAPI CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                          LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                          DWORD dwCreationDisposition, DWORD dwFlagsAndAttributes,
                          HANDLE hTemplateFile);
/* Pipe end: waits until the peer read everything written (S74), server
   with no client succeeds, disconnected client ERROR_PIPE_NOT_CONNECTED
   (S57, S85-S88); anonymous write end: waits until the pipe is read empty
   (ERROR_BROKEN_PIPE if every reader closes first), read end:
   ERROR_ACCESS_DENIED (S74, S132); file or standard handle: fsync;
   mailslot writer: TRUE. */
BOOL WINAPI FlushFileBuffers(HANDLE hFile);
/* Writes one request message, reads one reply (S109-S119): byte pipe or
   byte read mode ERROR_BAD_PIPE (S109, S110); unread data waiting
   ERROR_PIPE_BUSY (S111); longer reply FALSE + ERROR_MORE_DATA with
   *lpBytesRead = bytes copied (S113); lpOverlapped: see "Overlapped I/O". */
BOOL WINAPI TransactNamedPipe(HANDLE hNamedPipe, LPVOID lpInBuffer, DWORD nInBufferSize,
                              LPVOID lpOutBuffer, DWORD nOutBufferSize, LPDWORD lpBytesRead,
                              LPOVERLAPPED lpOverlapped);
/* Open (waiting nTimeOut: NMPWAIT_USE_DEFAULT_WAIT, NMPWAIT_NOWAIT,
   NMPWAIT_WAIT_FOREVER or ms), message mode, transact, close (S120-S124);
   longer reply: ERROR_MORE_DATA, rest lost (S122); byte pipe:
   ERROR_INVALID_PARAMETER (S123); no pipe: ERROR_FILE_NOT_FOUND (S124). */
BOOL WINAPI CallNamedPipeA(LPCSTR lpNamedPipeName, LPVOID lpInBuffer, DWORD nInBufferSize,
                           LPVOID lpOutBuffer, DWORD nOutBufferSize, LPDWORD lpBytesRead,
                           DWORD nTimeOut);
/* Waits until an instance listens (S35-S40): none exists
   ERROR_FILE_NOT_FOUND at once, timeout ERROR_SEM_TIMEOUT; NULL or
   malformed name ERROR_BAD_PATHNAME (S11, ReactOS's choice). */
BOOL WINAPI WaitNamedPipeA(LPCSTR lpNamedPipeName, DWORD nTimeOut);
/* Read/wait mode bits (PIPE_READMODE_MESSAGE, PIPE_NOWAIT) and instance
   count (S104); all pointers may be NULL; lpMaxCollectionCount and
   lpCollectDataTimeout must be NULL (S103, else ERROR_INVALID_PARAMETER);
   lpUserName: the client's login name on a server (buffer too small:
   ERROR_INSUFFICIENT_BUFFER), must be NULL on a client. Accepts
   anonymous pipe ends too: byte read mode, 1 instance (S138). */
BOOL WINAPI GetNamedPipeHandleStateA(HANDLE hNamedPipe, LPDWORD lpState,
                                     LPDWORD lpCurInstances, LPDWORD lpMaxCollectionCount,
                                     LPDWORD lpCollectDataTimeout, LPSTR lpUserName,
                                     DWORD nMaxUserNameSize);
/* Sets this handle's read and wait modes (S98-S100, S78); *lpMode bits
   other than PIPE_READMODE_MESSAGE|PIPE_NOWAIT, message mode on a byte
   pipe, non-NULL lpMaxCollectionCount/lpCollectDataTimeout:
   ERROR_INVALID_PARAMETER (S101, S98, S103); INBOUND server or client
   without GENERIC_WRITE/FILE_WRITE_ATTRIBUTES: ERROR_ACCESS_DENIED
   (S102). lpMode NULL changes nothing. On an anonymous pipe end only
   PIPE_NOWAIT can change (S138): then ReadFile of an empty pipe gives
   ERROR_NO_DATA (S76) and a WriteFile that does not fit writes 0 (S77). */
BOOL WINAPI SetNamedPipeHandleState(HANDLE hNamedPipe, LPDWORD lpMode,
                                    LPDWORD lpMaxCollectionCount,
                                    LPDWORD lpCollectDataTimeout);
/* The client's pid (own pid on a client handle) (S125, S127); NULL:
   ERROR_INSUFFICIENT_BUFFER (S126); after a disconnect ERROR_NOT_FOUND on
   the server, ERROR_PIPE_NOT_CONNECTED on the client (S128). */
BOOL WINAPI GetNamedPipeClientProcessId(HANDLE Pipe, PULONG ClientProcessId);
/* The server's pid (own pid on a server handle) (S125, S127); NULL:
   ERROR_INSUFFICIENT_BUFFER (S126); disconnected client:
   ERROR_PIPE_NOT_CONNECTED (S128). */
BOOL WINAPI GetNamedPipeServerProcessId(HANDLE Pipe, PULONG ServerProcessId);
/* The connected client's computer name (this machine's for local clients
   and on a client handle); no client: ERROR_NOT_FOUND; buffer (in bytes)
   too small: ERROR_INSUFFICIENT_BUFFER. */
BOOL WINAPI GetNamedPipeClientComputerNameA(HANDLE Pipe, LPSTR ClientComputerName,
                                            ULONG ClientComputerNameLength);

/* ---- Overlapped I/O and completion ports (S45, S46, S54, S55, S68,
   S72, S77, S83, S84, S160-S172) ----------------------------------------

   Named-pipe handles created or opened with FILE_FLAG_OVERLAPPED run
   ReadFile, WriteFile, ConnectNamedPipe and TransactNamedPipe with an
   OVERLAPPED as Windows does, and so does ReadFile on every mailslot
   handle (CreateMailslotA; the read timeout applies, S145-S147):
   - the call sets Internal to STATUS_PENDING and resets hEvent (hEvent
     NULL: the handle itself, S163);
   - it completes at once: TRUE (*count set), Internal/InternalHigh set,
     the event set, a packet queued if the handle is bound to a port
     (S160); a message read that does not fit: FALSE + ERROR_MORE_DATA,
     *count 0, also a completion (S161, S68);
   - it fails at once (S55, S162; ERROR_PIPE_CONNECTED, S45): FALSE + the
     error, Internal stays STATUS_PENDING, no event, no packet;
   - otherwise FALSE + ERROR_IO_PENDING; the operation completes later on
     the library's driver thread (no thread per operation), failures
     included (S83: ERROR_BROKEN_PIPE when the peer closes; S54, S167:
     ERROR_PIPE_NOT_CONNECTED on a disconnect). A pending ReadFile on a
     named-pipe handle that a thread waits for with no timeout and nothing
     else (WaitForSingleObject or WaitForMultipleObjects on its event or
     handle alone, GetOverlappedResult with bWait TRUE), while it is the
     handle's only pending operation, is run by that thread itself, with
     no thread switch; SetEvent, CancelIo/CancelIoEx and CloseHandle still
     end that wait at once.
   An OVERLAPPED given for a handle opened without FILE_FLAG_OVERLAPPED:
   the call is synchronous, then its result goes into the OVERLAPPED and
   its event is set. The caller keeps the OVERLAPPED and the buffers valid
   until completion. A cancelled write whose bytes all went stays
   delivered (Windows withdraws its unread bytes, S75). */
#define STATUS_PENDING ((DWORD)0x00000103L)
#define HasOverlappedIoCompleted(lpOverlapped) \
    (((DWORD)(lpOverlapped)->Internal) != STATUS_PENDING)
#define ERROR_ABANDONED_WAIT_0 735L

typedef struct _OVERLAPPED_ENTRY {
    ULONG_PTR lpCompletionKey;
    LPOVERLAPPED lpOverlapped;
    ULONG_PTR Internal;
    DWORD dwNumberOfBytesTransferred;
} OVERLAPPED_ENTRY, *LPOVERLAPPED_ENTRY;

/* The result of an overlapped operation (S164): TRUE + count, or FALSE +
   its error (ERROR_MORE_DATA with the count, S68); pending: FALSE +
   ERROR_IO_INCOMPLETE with bWait FALSE, else waits for the operation
   itself (its event is left as the completion set it). NULL lpOverlapped:
   ERROR_INVALID_PARAMETER. */
BOOL WINAPI GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                LPDWORD lpNumberOfBytesTransferred, BOOL bWait);
/* Cancels the overlapped operations the calling thread started on the
   handle: they complete with ERROR_OPERATION_ABORTED (S165); TRUE even if
   there were none (S166). */
BOOL WINAPI CancelIo(HANDLE hFile);
/* FileHandle INVALID_HANDLE_VALUE (ExistingCompletionPort NULL): a new
   port. Otherwise binds the named-pipe or mailslot handle with
   CompletionKey to ExistingCompletionPort (returned) or to a new port
   (S169); a handle binds once (again: ERROR_INVALID_PARAMETER).
   NumberOfConcurrentThreads is ignored. NULL on failure. */
HANDLE WINAPI CreateIoCompletionPort(HANDLE FileHandle, HANDLE ExistingCompletionPort,
                                     ULONG_PTR CompletionKey, DWORD NumberOfConcurrentThreads);
/* The next packet, FIFO (S169, S170): TRUE for a success or a posted
   packet; FALSE + the operation's error for a failed one (count, key and
   OVERLAPPED filled); timeout: FALSE + WAIT_TIMEOUT, *lpOverlapped NULL;
   the port's handle closed under the wait: ERROR_ABANDONED_WAIT_0. */
BOOL WINAPI GetQueuedCompletionStatus(HANDLE CompletionPort, LPDWORD lpNumberOfBytesTransferred,
                                      PULONG_PTR lpCompletionKey, LPOVERLAPPED *lpOverlapped,
                                      DWORD dwMilliseconds);
/* Up to ulCount packets at once (waiting for the first); each entry's
   Internal is the operation's NTSTATUS. Timeout: FALSE + WAIT_TIMEOUT.
   fAlertable is ignored (no APCs). */
BOOL WINAPI GetQueuedCompletionStatusEx(HANDLE CompletionPort,
                                        LPOVERLAPPED_ENTRY lpCompletionPortEntries,
                                        ULONG ulCount, PULONG ulNumEntriesRemoved,
                                        DWORD dwMilliseconds, BOOL fAlertable);
/* Queues a packet (count, key, OVERLAPPED pointer never dereferenced),
   dequeued as TRUE (S170). */
BOOL WINAPI PostQueuedCompletionStatus(HANDLE CompletionPort, DWORD dwNumberOfBytesTransferred,
                                       ULONG_PTR dwCompletionKey, LPOVERLAPPED lpOverlapped);

/* ---- Mailslots (S139-S157) --------------------------------------------- */

/* Reading end of \\.\mailslot\NAME (S139); NULL: ERROR_PATH_NOT_FOUND,
   malformed: ERROR_INVALID_NAME (S142); name in use: ERROR_ALREADY_EXISTS
   (S143); nMaxMessageSize 0 = any (S144); lReadTimeout 0 = return at once,
   MAILSLOT_WAIT_FOREVER, or ms (S144-S147). WriteFile on it:
   ERROR_ACCESS_DENIED (S153). A ReadFile waiting on it is woken with
   ERROR_OPERATION_ABORTED by CancelIoEx, CancelSynchronousIo and
   CloseHandle from another thread, as on a named-pipe handle (S41, T12);
   the cancelled read takes no message. */
HANDLE WINAPI CreateMailslotA(LPCSTR lpName, DWORD nMaxMessageSize, DWORD lReadTimeout,
                              LPSECURITY_ATTRIBUTES lpSecurityAttributes);
/* Max size, next size (MAILSLOT_NO_MESSAGE when empty, 0 for an empty
   message), count and read timeout (S144, S151); all outputs optional;
   never waits, also while a ReadFile on the same handle is blocked;
   writer or invalid handle: ERROR_INVALID_HANDLE. */
BOOL WINAPI GetMailslotInfo(HANDLE hMailslot, LPDWORD lpMaxMessageSize, LPDWORD lpNextSize,
                            LPDWORD lpMessageCount, LPDWORD lpReadTimeout);
/* Sets the read timeout of later reads, in every process holding the
   mailslot (S152); writer or invalid handle: ERROR_INVALID_HANDLE. */
BOOL WINAPI SetMailslotInfo(HANDLE hMailslot, DWORD lReadTimeout);

/* ---- Processes ------------------------------------------------------- */

/* Starts a program without a shell: the command line is split by the
   Microsoft C runtime rules, the program found in PATH; with
   STARTF_USESTDHANDLES and bInheritHandles TRUE, the inheritable
   hStdInput/hStdOutput/hStdError become the child's 0/1/2 (others:
   /dev/null); a pipe or mailslot handle there is relayed by a thread of
   this process (output: each chunk the child writes is one message;
   input: for a program not statically linked with this library, which
   otherwise takes it over through GetStdHandle); with bInheritHandles
   TRUE every inheritable handle is inherited (see "Inheritance" above;
   S19, S133, S135). hThread is the main thread: waitable (it ends with
   the process), GetExitCodeThread gives the process's exit code,
   CloseHandle closes it. No such program: ERROR_FILE_NOT_FOUND. */
BOOL WINAPI CreateProcessA(LPCSTR lpApplicationName, LPSTR lpCommandLine,
                           LPSECURITY_ATTRIBUTES lpProcessAttributes,
                           LPSECURITY_ATTRIBUTES lpThreadAttributes, BOOL bInheritHandles,
                           DWORD dwCreationFlags, LPVOID lpEnvironment,
                           LPCSTR lpCurrentDirectory, LPSTARTUPINFOA lpStartupInfo,
                           LPPROCESS_INFORMATION lpProcessInformation);
/* Waits for an object to be signaled: an event (S171), a thread or
   process that ended (a child's hThread: the process ended), a named-pipe
   or mailslot handle (signaled when created, S18; unsignaled while an
   overlapped operation reporting through an event is under way, signaled
   when one with hEvent NULL completes, S163; a client the server
   disconnected is never signaled, S52); anonymous pipe ends, files,
   mailslot writers and standard handles are always signaled. Returns
   WAIT_OBJECT_0, or WAIT_TIMEOUT after dwMilliseconds (INFINITE: no
   limit); a satisfied wait resets an auto-reset event. Other handles (a
   completion port): WAIT_FAILED + ERROR_INVALID_HANDLE. Nothing polls:
   waits sleep until a signal wakes them. */
DWORD WINAPI WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
/* Waits for the objects WaitForSingleObject takes: bWaitAll FALSE ->
   WAIT_OBJECT_0 + the lowest index signaled; TRUE -> WAIT_OBJECT_0 once all
   are signaled at the same time (auto-reset events among them are reset
   together); WAIT_TIMEOUT after dwMilliseconds; nCount 0 or >
   MAXIMUM_WAIT_OBJECTS, NULL lpHandles: ERROR_INVALID_PARAMETER; bad or
   other handle: ERROR_INVALID_HANDLE (WAIT_FAILED). */
DWORD WINAPI WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOL bWaitAll,
                                    DWORD dwMilliseconds);
/* A new unnamed event (S171): bManualReset TRUE stays signaled until
   ResetEvent; FALSE is reset by the one wait it satisfies; bInitialState:
   signaled at first. lpName must be NULL (ERROR_NOT_SUPPORTED: no named
   events). NULL on failure. */
HANDLE WINAPI CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes, BOOL bManualReset,
                           BOOL bInitialState, LPCSTR lpName);
/* CreateEventA; lpName (UTF-16) must be NULL. */
HANDLE WINAPI CreateEventW(LPSECURITY_ATTRIBUTES lpEventAttributes, BOOL bManualReset,
                           BOOL bInitialState, LPCWSTR lpName);
/* Signals an event; not an event: ERROR_INVALID_HANDLE. */
BOOL WINAPI SetEvent(HANDLE hEvent);
/* Unsignals an event; not an event: ERROR_INVALID_HANDLE. */
BOOL WINAPI ResetEvent(HANDLE hEvent);
/* The exit code of a process (killed by signal n: 128 + n), STILL_ACTIVE
   while it runs; NULL lpExitCode: ERROR_INVALID_PARAMETER. */
BOOL WINAPI GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode);
/* Runs lpStartAddress(lpParameter) on a new thread (dwStackSize 0 =
   default); exit code = its return value; *lpThreadId (optional) = the
   Linux thread id; dwCreationFlags must be 0 (CREATE_SUSPENDED:
   ERROR_NOT_SUPPORTED, other bits or NULL lpStartAddress:
   ERROR_INVALID_PARAMETER); returns NULL on failure. Closing the handle
   does not stop the thread. */
HANDLE WINAPI CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, size_t dwStackSize,
                           LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter,
                           DWORD dwCreationFlags, LPDWORD lpThreadId);
/* The exit code of a thread (a child's hThread: the process's),
   STILL_ACTIVE while it runs; NULL lpExitCode: ERROR_INVALID_PARAMETER. */
BOOL WINAPI GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);
/* Cancels the blocking ConnectNamedPipe/ReadFile/WriteFile/
   TransactNamedPipe/FlushFileBuffers calls under way on a named-pipe
   handle, or the ReadFile calls under way on a mailslot: they fail with
   ERROR_OPERATION_ABORTED (S41); with lpOverlapped NULL every overlapped
   operation on the handle too, with lpOverlapped that one only (S166);
   they complete with ERROR_OPERATION_ABORTED (S165). Nothing under way
   (or that OVERLAPPED not pending): ERROR_NOT_FOUND; other handles (a
   mailslot writer included): ERROR_INVALID_HANDLE. */
BOOL WINAPI CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);
/* Cancels the blocking named-pipe call or mailslot read (as CancelIoEx
   lists) the thread is in, with every other call under way on that
   handle: they fail with ERROR_OPERATION_ABORTED (S41); thread not in
   such a call: ERROR_NOT_FOUND; not a CreateThread handle:
   ERROR_INVALID_HANDLE. */
BOOL WINAPI CancelSynchronousIo(HANDLE hThread);
/* This process's id. */
DWORD WINAPI GetCurrentProcessId(void);
/* Ends this process (atexit handlers and stdio flush run; the low 8 bits
   of the code reach the parent). */
void WINAPI ExitProcess(UINT uExitCode);

/* ---- Time ------------------------------------------------------------ */

/* Suspends the calling thread for dwMilliseconds (INFINITE: forever). */
void WINAPI Sleep(DWORD dwMilliseconds);
/* Milliseconds since boot (CLOCK_BOOTTIME), wrapping at 2^32. */
DWORD WINAPI GetTickCount(void);
/* Milliseconds since boot (CLOCK_BOOTTIME). */
ULONGLONG WINAPI GetTickCount64(void);
/* *lpPerformanceCount = CLOCK_MONOTONIC in nanoseconds; NULL:
   ERROR_INVALID_PARAMETER. */
BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER *lpPerformanceCount);
/* *lpFrequency = 1000000000 (counts per second); NULL:
   ERROR_INVALID_PARAMETER. */
BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER *lpFrequency);

/* ---- Files by name --------------------------------------------------- */

/* Removes a file; none: ERROR_FILE_NOT_FOUND (directory missing:
   ERROR_PATH_NOT_FOUND); a directory: ERROR_ACCESS_DENIED; NULL:
   ERROR_PATH_NOT_FOUND. */
BOOL WINAPI DeleteFileA(LPCSTR lpFileName);
/* Stores "<lpPathName>/<up to 3 prefix chars><HEX>.TMP" in lpTempFileName
   (MAX_PATH bytes); uUnique 0: creates a new empty file, trying numbers
   until one is free, and returns its number; non-zero: builds the name
   from its low 16 bits only and returns that. Name too long:
   ERROR_BUFFER_OVERFLOW; no such directory: ERROR_DIRECTORY; NULL
   lpPathName/lpTempFileName: ERROR_INVALID_PARAMETER. 0 on failure. */
UINT WINAPI GetTempFileNameA(LPCSTR lpPathName, LPCSTR lpPrefixString, UINT uUnique,
                             LPSTR lpTempFileName);

/* ---- Messages -------------------------------------------------------- */

/* System message text of dwMessageId (English, ending "\r\n"); needs
   FORMAT_MESSAGE_FROM_SYSTEM; IGNORE_INSERTS accepted; ALLOCATE_BUFFER
   stores a malloc'd string at *(LPSTR *)lpBuffer, freed with LocalFree;
   width bits ignored; FROM_STRING: ERROR_INVALID_PARAMETER; unknown code:
   ERROR_MR_MID_NOT_FOUND; buffer too small: ERROR_INSUFFICIENT_BUFFER.
   Returns the length without the NUL, or 0. */
DWORD WINAPI FormatMessageA(DWORD dwFlags, LPCVOID lpSource, DWORD dwMessageId,
                            DWORD dwLanguageId, LPSTR lpBuffer, DWORD nSize,
                            va_list *Arguments);
/* Frees a FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER) buffer; returns
   NULL. */
HLOCAL WINAPI LocalFree(HLOCAL hMem);
/* This computer's name: $PIPESLOT_COMPUTERNAME, else the kernel's host
   name, as spelled (not cut to MAX_COMPUTERNAME_LENGTH). *nSize: the
   buffer's size in; the length without the NUL out. Too small: FALSE,
   ERROR_BUFFER_OVERFLOW, *nSize = the size needed with the NUL. */
BOOL WINAPI GetComputerNameA(LPSTR lpBuffer, LPDWORD nSize);
/* GetComputerNameA in WCHARs (*nSize counts WCHARs). */
BOOL WINAPI GetComputerNameW(WCHAR *lpBuffer, LPDWORD nSize);
#ifndef MAX_COMPUTERNAME_LENGTH
#define MAX_COMPUTERNAME_LENGTH 15
#endif
#ifndef ERROR_BUFFER_OVERFLOW
#define ERROR_BUFFER_OVERFLOW 111L
#endif

/* ---- Unicode (W) entry points --------------------------------------- */

/* Each is its A function with UTF-16 strings (WCHAR), converted to the
   UTF-8 pipeslot uses for names: a W name reaches the same pipe, mailslot
   or file as the A name with the same text. Text that is not UTF-16 (a
   lone surrogate): ERROR_INVALID_NAME for names and paths,
   ERROR_INVALID_PARAMETER for a command line or environment block. Sizes
   of output buffers count WCHARs, except ClientComputerNameLength (bytes,
   as on Windows). CreateProcessW reads a UTF-16 environment block with
   CREATE_UNICODE_ENVIRONMENT in dwCreationFlags, an ANSI one otherwise.
   FormatMessageW with FORMAT_MESSAGE_ALLOCATE_BUFFER returns a malloc'd
   WCHAR string for LocalFree. */
#define CREATE_UNICODE_ENVIRONMENT 0x00000400u
HANDLE WINAPI CreateNamedPipeW(LPCWSTR lpName, DWORD dwOpenMode, DWORD dwPipeMode,
                               DWORD nMaxInstances, DWORD nOutBufferSize, DWORD nInBufferSize,
                               DWORD nDefaultTimeOut, LPSECURITY_ATTRIBUTES lpSecurityAttributes);
HANDLE WINAPI CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                          LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                          DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
BOOL WINAPI CallNamedPipeW(LPCWSTR lpNamedPipeName, LPVOID lpInBuffer, DWORD nInBufferSize,
                           LPVOID lpOutBuffer, DWORD nOutBufferSize, LPDWORD lpBytesRead,
                           DWORD nTimeOut);
BOOL WINAPI WaitNamedPipeW(LPCWSTR lpNamedPipeName, DWORD nTimeOut);
BOOL WINAPI GetNamedPipeHandleStateW(HANDLE hNamedPipe, LPDWORD lpState, LPDWORD lpCurInstances,
                                     LPDWORD lpMaxCollectionCount, LPDWORD lpCollectDataTimeout,
                                     LPWSTR lpUserName, DWORD nMaxUserNameSize);
BOOL WINAPI GetNamedPipeClientComputerNameW(HANDLE Pipe, LPWSTR ClientComputerName,
                                            ULONG ClientComputerNameLength);
HANDLE WINAPI CreateMailslotW(LPCWSTR lpName, DWORD nMaxMessageSize, DWORD lReadTimeout,
                              LPSECURITY_ATTRIBUTES lpSecurityAttributes);
BOOL WINAPI CreateProcessW(LPCWSTR lpApplicationName, LPWSTR lpCommandLine,
                           LPSECURITY_ATTRIBUTES lpProcessAttributes,
                           LPSECURITY_ATTRIBUTES lpThreadAttributes, BOOL bInheritHandles,
                           DWORD dwCreationFlags, LPVOID lpEnvironment,
                           LPCWSTR lpCurrentDirectory, LPSTARTUPINFOW lpStartupInfo,
                           LPPROCESS_INFORMATION lpProcessInformation);
BOOL WINAPI DeleteFileW(LPCWSTR lpFileName);
UINT WINAPI GetTempFileNameW(LPCWSTR lpPathName, LPCWSTR lpPrefixString, UINT uUnique,
                             LPWSTR lpTempFileName);
DWORD WINAPI FormatMessageW(DWORD dwFlags, LPCVOID lpSource, DWORD dwMessageId,
                            DWORD dwLanguageId, LPWSTR lpBuffer, DWORD nSize,
                            va_list *Arguments);

/* ---- Interlocked operations and critical sections (inline) ---------- */

/* Not exports: static inline functions over the compiler's atomics and
   POSIX mutexes, as the Win32 headers make most of them intrinsics. Every
   Interlocked* is a full barrier (sequentially consistent) and returns
   what Windows returns: the new value (Increment, Decrement, Add
   returns the new value too) or the old one (Exchange,
   CompareExchange, ExchangeAdd). */
static inline LONG InterlockedIncrement(LONG volatile *Addend)
{
    return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedDecrement(LONG volatile *Addend)
{
    return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedExchange(LONG volatile *Target, LONG Value)
{
    return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedCompareExchange(LONG volatile *Destination, LONG Exchange,
                                              LONG Comperand)
{
    __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return Comperand;
}
static inline LONG InterlockedExchangeAdd(LONG volatile *Addend, LONG Value)
{
    return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedAdd(LONG volatile *Addend, LONG Value)
{
    return __atomic_add_fetch(Addend, Value, __ATOMIC_SEQ_CST);
}
static inline PVOID InterlockedExchangePointer(PVOID volatile *Target, PVOID Value)
{
    return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline PVOID InterlockedCompareExchangePointer(PVOID volatile *Destination, PVOID Exchange,
                                                      PVOID Comperand)
{
    __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return Comperand;
}

/* A critical section is a recursive mutex, as on Windows: the owning
   thread may enter it again, and leaves it as often as it entered.
   TryEnterCriticalSection returns TRUE when it entered. The spin count is
   accepted and ignored. */
typedef struct _CRITICAL_SECTION {
    pthread_mutex_t mutex;
} CRITICAL_SECTION, *LPCRITICAL_SECTION, *PCRITICAL_SECTION;

static inline void InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&lpCriticalSection->mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
}
static inline BOOL InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION lpCriticalSection,
                                                         DWORD dwSpinCount)
{
    (void)dwSpinCount;
    InitializeCriticalSection(lpCriticalSection);
    return TRUE;
}
static inline void EnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutex_lock(&lpCriticalSection->mutex);
}
static inline BOOL TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    return pthread_mutex_trylock(&lpCriticalSection->mutex) == 0 ? TRUE : FALSE;
}
static inline void LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutex_unlock(&lpCriticalSection->mutex);
}
static inline void DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutex_destroy(&lpCriticalSection->mutex);
}

#ifdef __cplusplus
}
#endif

#endif /* PIPESLOT_WIN32_H */
