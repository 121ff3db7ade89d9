/*
 * pipeslot/win32.h -- the Win32 IPC C API on Linux (libpipeslot_win32).
 *
 * Declares exactly what libpipeslot_win32 exports. Behaviour and
 * GetLastError codes follow ../shared/spec/win32-semantics.md (S1..S157).
 *
 * NOT YET PROVIDED (absent, not stubbed; programs using them do not link):
 *   named pipes  -- CreateNamedPipeA, ConnectNamedPipe, DisconnectNamedPipe,
 *                   CreateFileA, FlushFileBuffers, TransactNamedPipe,
 *                   CallNamedPipeA, WaitNamedPipeA, GetNamedPipeHandleStateA,
 *                   SetNamedPipeHandleState, GetNamedPipeClientProcessId,
 *                   GetNamedPipeServerProcessId,
 *                   GetNamedPipeClientComputerNameA
 *   mailslots    -- CreateMailslotA, GetMailslotInfo, SetMailslotInfo
 *   threads      -- CreateThread, GetExitCodeThread, WaitForMultipleObjects
 *   overlapped   -- any non-NULL OVERLAPPED gives ERROR_NOT_SUPPORTED (50);
 *                   CancelIoEx, CancelSynchronousIo
 *   other        -- QueryPerformanceCounter, QueryPerformanceFrequency,
 *                   DeleteFileA, GetTempFileNameA
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
typedef uint32_t UINT;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef void VOID;
typedef void *PVOID;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef char CHAR;
typedef char TCHAR;
typedef const char *LPCSTR;
typedef char *LPSTR;
typedef const char *LPCTSTR;
typedef char *LPTSTR;

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

typedef struct _PROCESS_INFORMATION {
    HANDLE hProcess;
    HANDLE hThread;      /* always NULL: no thread handles yet */
    DWORD dwProcessId;
    DWORD dwThreadId;    /* always 0 */
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
#define ERROR_GEN_FAILURE 31L
#define ERROR_SHARING_VIOLATION 32L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_BAD_NETPATH 53L
#define ERROR_INVALID_PARAMETER 87L
#define ERROR_BROKEN_PIPE 109L
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
   ERROR_INVALID_HANDLE. A GetStdHandle handle: TRUE, and it stays open. */
BOOL WINAPI CloseHandle(HANDLE hObject);
/* Anonymous byte pipe; read end = server end, write end = client end
   (S130); nSize is a hint, 0 = default, reported as 4096 (S131); handles
   inheritable only with lpPipeAttributes->bInheritHandle TRUE (S133).
   NULL hReadPipe/hWritePipe: ERROR_INVALID_PARAMETER. */
BOOL WINAPI CreatePipe(PHANDLE hReadPipe, PHANDLE hWritePipe,
                       LPSECURITY_ATTRIBUTES lpPipeAttributes, DWORD nSize);
/* Reads from a pipe read end or standard handle; blocks until data, may
   return fewer bytes (S60, S134); at end of data FALSE + ERROR_BROKEN_PIPE
   (S135); *lpNumberOfBytesRead = 0 on every failure (S69); write end:
   ERROR_ACCESS_DENIED (S132); lpOverlapped non-NULL: ERROR_NOT_SUPPORTED. */
BOOL WINAPI ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead,
                     LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped);
/* Writes all bytes to a pipe write end or standard handle, blocking while
   the pipe is full (S136); no reader left: FALSE + ERROR_NO_DATA, never
   SIGPIPE (S129); read end: ERROR_ACCESS_DENIED (S132); lpOverlapped
   non-NULL: ERROR_NOT_SUPPORTED. */
BOOL WINAPI WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite,
                      LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped);
/* Copies queued bytes of a pipe read end without consuming them; returns
   at once, empty pipe (0,0,0) (S89-S91, S95, S97, S138); writers gone and
   nothing left: ERROR_BROKEN_PIPE (S96); BytesLeftThisMessage is
   (DWORD)(0 - bytesRead) as for byte pipes (S91). All outputs optional. */
BOOL WINAPI PeekNamedPipe(HANDLE hNamedPipe, LPVOID lpBuffer, DWORD nBufferSize,
                          LPDWORD lpBytesRead, LPDWORD lpTotalBytesAvail,
                          LPDWORD lpBytesLeftThisMessage);
/* Flags (PIPE_SERVER_END for the read end, 0 for the write end), buffer
   sizes and max instances (1) of an anonymous pipe end (S130, S131, S138).
   All outputs optional. */
BOOL WINAPI GetNamedPipeInfo(HANDLE hNamedPipe, LPDWORD lpFlags, LPDWORD lpOutBufferSize,
                             LPDWORD lpInBufferSize, LPDWORD lpMaxInstances);
/* The handle of descriptor 0, 1 or 2 (same value each call; inheritable);
   another nStdHandle: INVALID_HANDLE_VALUE + ERROR_INVALID_HANDLE. */
HANDLE WINAPI GetStdHandle(DWORD nStdHandle);

/* ---- Processes ------------------------------------------------------- */

/* Starts a program without a shell: the command line is split by the
   Microsoft C runtime rules, the program found in PATH; with
   STARTF_USESTDHANDLES and bInheritHandles TRUE, the inheritable
   hStdInput/hStdOutput/hStdError become the child's 0/1/2 (others:
   /dev/null); with bInheritHandles TRUE every inheritable handle is
   inherited (S133, S135). hThread is NULL. No such program:
   ERROR_FILE_NOT_FOUND. */
BOOL WINAPI CreateProcessA(LPCSTR lpApplicationName, LPSTR lpCommandLine,
                           LPSECURITY_ATTRIBUTES lpProcessAttributes,
                           LPSECURITY_ATTRIBUTES lpThreadAttributes, BOOL bInheritHandles,
                           DWORD dwCreationFlags, LPVOID lpEnvironment,
                           LPCSTR lpCurrentDirectory, LPSTARTUPINFOA lpStartupInfo,
                           LPPROCESS_INFORMATION lpProcessInformation);
/* Waits for a process handle: WAIT_OBJECT_0 when it ended, WAIT_TIMEOUT
   after dwMilliseconds (INFINITE: no limit); other handles: WAIT_FAILED +
   ERROR_INVALID_HANDLE. */
DWORD WINAPI WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
/* The exit code of a process (killed by signal n: 128 + n), STILL_ACTIVE
   while it runs; NULL lpExitCode: ERROR_INVALID_PARAMETER. */
BOOL WINAPI GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode);
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

#ifdef __cplusplus
}
#endif

#endif /* PIPESLOT_WIN32_H */
