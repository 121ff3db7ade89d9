/* conformance.c -- checks every function libpipeslot_win32 exports against
 * docs/win32-semantics.md. One line per check; the last line is
 * "N passed, M failed". Run by tests/c_programs.rs; argv[0] must be a path
 * to this program, which re-runs itself as a child (--print-args, --exit,
 * --print-env). */
#include <windows.h>
#include <tchar.h>
#include <unistd.h>
#include <pthread.h>

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    if (ok)
        passed++;
    else
        failed++;
}

#define CHECK(cond, what) check((cond) ? 1 : 0, what)

static const char *self;

/* Runs `line` with stdout into a pipe; returns the bytes read (NUL-ended). */
static DWORD run_capture(const char *line, BOOL inheritablePipe, BOOL inheritHandles,
                         char *out, DWORD size, DWORD *exitCode)
{
    HANDLE r, w;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, inheritablePipe};
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    char command[1024];
    DWORD total = 0, n = 0;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    *exitCode = 0xDEAD;
    out[0] = 0;
    if (!CreatePipe(&r, &w, &sa, 0))
        return 0;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = w;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    strncpy(command, line, sizeof command - 1);
    command[sizeof command - 1] = 0;
    if (!CreateProcessA(NULL, command, NULL, NULL, inheritHandles, 0, NULL, NULL, &si, &pi)) {
        CloseHandle(r);
        CloseHandle(w);
        return 0;
    }
    CloseHandle(w);
    while (total + 1 < size && ReadFile(r, out + total, size - 1 - total, &n, NULL))
        total += n;
    out[total] = 0;
    CloseHandle(r);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, exitCode);
    CloseHandle(pi.hProcess);
    return total;
}

static void test_last_error(void)
{
    SetLastError(12345);
    CHECK(GetLastError() == 12345, "SetLastError/GetLastError round trip");
    SetLastError(0);
    CHECK(GetLastError() == ERROR_SUCCESS, "SetLastError(ERROR_SUCCESS)");
}

static void test_handles(void)
{
    HANDLE r, w;
    DWORD n = 77;
    char buf[8];
    SetLastError(0);
    CHECK(!CloseHandle(NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "CloseHandle(NULL) -> ERROR_INVALID_HANDLE");
    SetLastError(0);
    CHECK(!CloseHandle(INVALID_HANDLE_VALUE) && GetLastError() == ERROR_INVALID_HANDLE,
          "CloseHandle(INVALID_HANDLE_VALUE) -> ERROR_INVALID_HANDLE");
    CHECK(CreatePipe(&r, &w, NULL, 0), "CreatePipe");
    CHECK(r != NULL && w != NULL && r != INVALID_HANDLE_VALUE && r != w,
          "CreatePipe handles are distinct and valid");
    CHECK(CloseHandle(w), "CloseHandle(write end)");
    SetLastError(0);
    CHECK(!CloseHandle(w) && GetLastError() == ERROR_INVALID_HANDLE,
          "CloseHandle twice -> ERROR_INVALID_HANDLE");
    SetLastError(0);
    CHECK(!WriteFile(w, "x", 1, &n, NULL) && GetLastError() == ERROR_INVALID_HANDLE && n == 0,
          "WriteFile on a closed handle -> ERROR_INVALID_HANDLE");
    CloseHandle(r);
    n = 77;
    SetLastError(0);
    CHECK(!ReadFile(INVALID_HANDLE_VALUE, buf, sizeof buf, &n, NULL)
              && GetLastError() == ERROR_INVALID_HANDLE && n == 0,
          "S69 ReadFile(INVALID_HANDLE_VALUE) -> ERROR_INVALID_HANDLE, *read = 0");
    SetLastError(0);
    CHECK(!CreatePipe(NULL, &w, NULL, 0) && GetLastError() == ERROR_INVALID_PARAMETER,
          "CreatePipe(NULL, ...) -> ERROR_INVALID_PARAMETER");
}

static void test_pipe_info(void)
{
    HANDLE r, w;
    DWORD flags = 99, out = 0, in = 0, max = 0;
    CreatePipe(&r, &w, NULL, 0);
    CHECK(GetNamedPipeInfo(r, &flags, &out, &in, &max) && flags == PIPE_SERVER_END
              && out == 4096 && in == 4096 && max == 1,
          "S130 S131 read end: PIPE_SERVER_END, 4096/4096, 1 instance");
    CHECK(GetNamedPipeInfo(w, &flags, &out, &in, &max) && flags == PIPE_CLIENT_END && max == 1,
          "S130 write end: PIPE_CLIENT_END, 1 instance");
    CHECK(GetNamedPipeInfo(r, NULL, NULL, NULL, NULL), "GetNamedPipeInfo with NULL outputs");
    CloseHandle(r);
    CloseHandle(w);
    CreatePipe(&r, &w, NULL, 1);
    CHECK(GetNamedPipeInfo(r, NULL, &out, &in, NULL) && out == 1 && in == 1,
          "S131 nSize 1 is reported as 1/1");
    CloseHandle(r);
    CloseHandle(w);
}

static void test_pipe_io(void)
{
    HANDLE r, w;
    char buf[64];
    DWORD n = 0, avail = 0, left = 0;
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    CreatePipe(&r, &w, NULL, 0);

    CHECK(PeekNamedPipe(r, buf, sizeof buf, &n, &avail, &left) && n == 0 && avail == 0
              && left == 0,
          "S95 peek on an empty pipe -> (0, 0, 0)");
    CHECK(WriteFile(w, "hello world", 11, &n, NULL) && n == 11, "WriteFile 11 bytes");
    CHECK(WriteFile(w, "0123456789", 10, &n, NULL) && n == 10, "WriteFile 10 bytes");
    CHECK(PeekNamedPipe(r, buf, 4, &n, &avail, &left) && n == 4 && avail == 21
              && left == (DWORD)(0 - 4) && memcmp(buf, "hell", 4) == 0,
          "S90 S91 peek 4 of 21 bytes, left = (DWORD)-4");
    CHECK(PeekNamedPipe(r, NULL, 0, &n, &avail, &left) && n == 0 && avail == 21 && left == 0,
          "S89 S97 peek with a NULL buffer");
    CHECK(PeekNamedPipe(r, NULL, 0, NULL, NULL, NULL), "S89 peek with every output NULL");
    CHECK(ReadFile(r, buf, 4, &n, NULL) && n == 4 && memcmp(buf, "hell", 4) == 0,
          "S59 short read returns 4 bytes");
    CHECK(ReadFile(r, buf, sizeof buf, &n, NULL) && n == 17 && memcmp(buf, "o world0123456789", 17) == 0,
          "S58 S134 writes join into one stream");
    WriteFile(w, "z", 1, &n, NULL);
    n = 9;
    CHECK(ReadFile(r, buf, 0, &n, NULL) && n == 0, "S67 zero-byte read of a non-empty pipe: TRUE, 0");
    CHECK(ReadFile(r, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'z',
          "S67 the zero-byte read consumed nothing");

    SetLastError(0);
    CHECK(!ReadFile(w, buf, 4, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S132 ReadFile on the write end -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(!WriteFile(r, "x", 1, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S132 WriteFile on the read end -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(!PeekNamedPipe(w, NULL, 0, &n, NULL, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S96 PeekNamedPipe on the write end -> ERROR_ACCESS_DENIED");
    /* S137: an OVERLAPPED is ignored on an anonymous pipe. */
    ov.Internal = 0x1234;
    ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    CHECK(WriteFile(w, "xy", 2, &n, &ov) && n == 2,
          "S137 WriteFile with an OVERLAPPED on an anonymous pipe: synchronous, TRUE");
    CHECK(ReadFile(r, buf, 4, &n, &ov) && n == 2 && memcmp(buf, "xy", 2) == 0,
          "S137 ReadFile with an OVERLAPPED on an anonymous pipe: synchronous, TRUE");
    CHECK(ov.Internal == 0x1234 && WaitForSingleObject(ov.hEvent, 0) == WAIT_TIMEOUT,
          "S137 the ignored OVERLAPPED and its event are untouched");
    CloseHandle(ov.hEvent);

    /* S135: data before the close is read, then ERROR_BROKEN_PIPE. */
    WriteFile(w, "tail", 4, &n, NULL);
    CloseHandle(w);
    CHECK(PeekNamedPipe(r, NULL, 0, NULL, &avail, NULL) && avail == 4,
          "S79 queued data can be peeked after the writer closed");
    CHECK(ReadFile(r, buf, sizeof buf, &n, NULL) && n == 4 && memcmp(buf, "tail", 4) == 0,
          "S135 data written before the close is read");
    n = 5;
    SetLastError(0);
    CHECK(!ReadFile(r, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BROKEN_PIPE && n == 0,
          "S135 then ReadFile -> FALSE + ERROR_BROKEN_PIPE");
    SetLastError(0);
    CHECK(!PeekNamedPipe(r, NULL, 0, NULL, NULL, NULL) && GetLastError() == ERROR_BROKEN_PIPE,
          "S96 peek after the writers closed and nothing left -> ERROR_BROKEN_PIPE");
    CloseHandle(r);

    /* S129: writing with no reader. */
    CreatePipe(&r, &w, NULL, 0);
    CloseHandle(r);
    SetLastError(0);
    CHECK(!WriteFile(w, "x", 1, &n, NULL) && GetLastError() == ERROR_NO_DATA,
          "S129 WriteFile with no reader -> ERROR_NO_DATA, no SIGPIPE");
    CloseHandle(w);

    /* S136: a write as large as the hint completes with no reader. */
    CreatePipe(&r, &w, NULL, 32768 + 24);
    {
        static char big[32768];
        memset(big, 'b', sizeof big);
        CHECK(WriteFile(w, big, sizeof big, &n, NULL) && n == sizeof big,
              "S136 32768-byte write to a 32768+24 pipe completes");
    }
    CloseHandle(r);
    CloseHandle(w);
}

/* Reads what is in the anonymous pipe `param` after 200 ms (for the flush). */
static DWORD WINAPI drain_later(LPVOID param)
{
    char buf[64];
    DWORD n = 0;
    Sleep(200);
    ReadFile((HANDLE)param, buf, sizeof buf, &n, NULL);
    return n;
}

/* S74 on anonymous pipes: FlushFileBuffers waits for the reader. */
static void test_anon_flush(void)
{
    HANDLE r, w, t;
    DWORD n = 0, start, took, drained = 0;
    CreatePipe(&r, &w, NULL, 0);
    start = GetTickCount();
    CHECK(FlushFileBuffers(w) && GetTickCount() - start < 1000,
          "S74 FlushFileBuffers on an empty anonymous pipe returns at once");
    WriteFile(w, "flush me", 8, &n, NULL);
    t = CreateThread(NULL, 0, drain_later, r, 0, NULL);
    start = GetTickCount();
    CHECK(FlushFileBuffers(w), "S74 FlushFileBuffers(write end) succeeds once the reader read it all");
    took = GetTickCount() - start;
    WaitForSingleObject(t, 10000);
    GetExitCodeThread(t, &drained);
    CloseHandle(t);
    CHECK(took >= 150 && drained == 8, "S74 ... and it waited for the read (8 bytes, >= 150 ms)");
    SetLastError(0);
    CHECK(!FlushFileBuffers(r) && GetLastError() == ERROR_ACCESS_DENIED,
          "S132 FlushFileBuffers on the read end (no write access) -> ERROR_ACCESS_DENIED");
    WriteFile(w, "never read", 10, &n, NULL);
    CloseHandle(r);
    SetLastError(0);
    CHECK(!FlushFileBuffers(w) && GetLastError() == ERROR_BROKEN_PIPE,
          "S74 FlushFileBuffers with unread bytes and no reader -> ERROR_BROKEN_PIPE");
    CloseHandle(w);
}

/* S138: the named-pipe state functions accept anonymous pipe handles: a
 * byte pipe of one instance, whose wait mode can change (S76, S77). */
static void test_anon_handle_state(void)
{
    HANDLE r, w;
    DWORD state = 99, instances = 99, mode, n = 99;
    char buf[8];
    CHECK(CreatePipe(&r, &w, NULL, 0), "S138 CreatePipe for handle state");
    CHECK(GetNamedPipeHandleStateA(r, &state, &instances, NULL, NULL, NULL, 0)
              && state == 0 && instances == 1,
          "S138 GetNamedPipeHandleState(read end): byte, blocking, 1 instance");
    CHECK(GetNamedPipeHandleStateA(w, NULL, NULL, NULL, NULL, NULL, 0),
          "S138 GetNamedPipeHandleState(write end) with NULL pointers");
    mode = PIPE_READMODE_MESSAGE;
    CHECK(!SetNamedPipeHandleState(r, &mode, NULL, NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
          "S138/S98 message read mode on an anonymous pipe: ERROR_INVALID_PARAMETER");
    mode = PIPE_NOWAIT;
    CHECK(SetNamedPipeHandleState(r, &mode, NULL, NULL), "S138 SetNamedPipeHandleState(read end, PIPE_NOWAIT)");
    CHECK(GetNamedPipeHandleStateA(r, &state, NULL, NULL, NULL, NULL, 0) && state == PIPE_NOWAIT,
          "S138 the read end reports PIPE_NOWAIT");
    CHECK(!ReadFile(r, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_NO_DATA,
          "S76 PIPE_NOWAIT read of an empty anonymous pipe: ERROR_NO_DATA");
    CHECK(SetNamedPipeHandleState(w, &mode, NULL, NULL), "S138 SetNamedPipeHandleState(write end, PIPE_NOWAIT)");
    CHECK(WriteFile(w, "abc", 3, &n, NULL) && n == 3, "S77 PIPE_NOWAIT write that fits writes it all");
    CHECK(ReadFile(r, buf, sizeof buf, &n, NULL) && n == 3 && memcmp(buf, "abc", 3) == 0,
          "S138 the PIPE_NOWAIT read end reads what is there");
    CloseHandle(w);
    CHECK(!ReadFile(r, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BROKEN_PIPE,
          "S135 PIPE_NOWAIT read after the writer closed: ERROR_BROKEN_PIPE");
    CloseHandle(r);
}

static void test_wrong_kind(void)
{
    HANDLE r, w;
    DWORD code = 0;
    CreatePipe(&r, &w, NULL, 0);
    CHECK(WaitForSingleObject(r, 0) == WAIT_OBJECT_0,
          "WaitForSingleObject on an anonymous pipe end -> WAIT_OBJECT_0 (always signaled)");
    SetLastError(0);
    CHECK(!GetExitCodeProcess(w, &code) && GetLastError() == ERROR_INVALID_HANDLE,
          "GetExitCodeProcess on a pipe -> ERROR_INVALID_HANDLE");
    CloseHandle(r);
    CloseHandle(w);
}

static void test_std_handles(void)
{
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD n = 9;
    CHECK(out != INVALID_HANDLE_VALUE && out != NULL && out == GetStdHandle(STD_OUTPUT_HANDLE),
          "GetStdHandle(STD_OUTPUT_HANDLE) is stable");
    CHECK(GetStdHandle(STD_INPUT_HANDLE) != GetStdHandle(STD_ERROR_HANDLE),
          "GetStdHandle input and error differ");
    SetLastError(0);
    CHECK(GetStdHandle(42) == INVALID_HANDLE_VALUE && GetLastError() == ERROR_INVALID_HANDLE,
          "GetStdHandle(42) -> INVALID_HANDLE_VALUE + ERROR_INVALID_HANDLE");
    fflush(stdout);
    CHECK(WriteFile(out, "note: written by WriteFile\n", 27, &n, NULL) && n == 27,
          "WriteFile on the standard output handle");
    CHECK(CloseHandle(out) && WriteFile(out, "", 0, &n, NULL),
          "CloseHandle(std handle) succeeds and keeps it usable (documented)");
    SetLastError(0);
    CHECK(!GetNamedPipeInfo(out, NULL, NULL, NULL, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "GetNamedPipeInfo on a standard handle -> ERROR_INVALID_HANDLE");
}

static void test_format_message(void)
{
    char buf[256];
    LPSTR allocated = NULL;
    DWORD n;
    n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                       ERROR_BROKEN_PIPE, 0, buf, sizeof buf, NULL);
    CHECK(n == strlen("The pipe has been ended.\r\n")
              && strcmp(buf, "The pipe has been ended.\r\n") == 0,
          "FormatMessageA(ERROR_BROKEN_PIPE)");
    n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, NULL, ERROR_INVALID_HANDLE,
                       MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), buf, sizeof buf, NULL);
    CHECK(n > 0 && strcmp(buf, "The handle is invalid.\r\n") == 0,
          "FormatMessageA(ERROR_INVALID_HANDLE)");
    n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, NULL, ERROR_NO_DATA, 0, buf, sizeof buf, NULL);
    CHECK(n > 0 && strcmp(buf, "The pipe is being closed.\r\n") == 0,
          "FormatMessageA(ERROR_NO_DATA)");
    n = FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM, NULL,
                       ERROR_FILE_NOT_FOUND, 0, (LPSTR)&allocated, 0, NULL);
    CHECK(n > 0 && allocated != NULL
              && strcmp(allocated, "The system cannot find the file specified.\r\n") == 0,
          "FormatMessageA with FORMAT_MESSAGE_ALLOCATE_BUFFER");
    CHECK(LocalFree(allocated) == NULL, "LocalFree of the allocated message");
    SetLastError(0);
    CHECK(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, NULL, ERROR_BROKEN_PIPE, 0, buf, 5, NULL) == 0
              && GetLastError() == ERROR_INSUFFICIENT_BUFFER,
          "FormatMessageA into a small buffer -> ERROR_INSUFFICIENT_BUFFER");
    SetLastError(0);
    CHECK(FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM, NULL, 99999, 0, buf, sizeof buf, NULL) == 0
              && GetLastError() == ERROR_MR_MID_NOT_FOUND,
          "FormatMessageA of an unknown code -> ERROR_MR_MID_NOT_FOUND");
    SetLastError(0);
    CHECK(FormatMessageA(0, NULL, ERROR_BROKEN_PIPE, 0, buf, sizeof buf, NULL) == 0
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "FormatMessageA without FROM_SYSTEM -> ERROR_INVALID_PARAMETER");
}

static void test_time_and_ids(void)
{
    ULONGLONG start64 = GetTickCount64();
    DWORD start = GetTickCount();
    Sleep(50);
    CHECK(GetTickCount() - start >= 40, "Sleep(50) and GetTickCount");
    CHECK(GetTickCount64() - start64 >= 40, "GetTickCount64 advances");
    CHECK((DWORD)GetTickCount64() - GetTickCount() < 1000, "GetTickCount is GetTickCount64's low part");
    CHECK(GetCurrentProcessId() == (DWORD)getpid(), "GetCurrentProcessId");
}

static void test_create_process(void)
{
    char out[512], line[1024];
    DWORD code = 0, n;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;

    /* Argument splitting: the Microsoft C runtime rules. */
    snprintf(line, sizeof line,
             "\"%s\" --print-args a \"b c\" d\\\"e f\\\\\\\\\"g h\" x\\y \"\" \"q\"\"r\"", self);
    n = run_capture(line, TRUE, TRUE, out, sizeof out, &code);
    CHECK(n > 0 && strcmp(out, "a|b c|d\"e|f\\\\g h|x\\y||q\"r|") == 0 && code == 0,
          "CreateProcessA splits the command line as Windows does");
    if (strcmp(out, "a|b c|d\"e|f\\\\g h|x\\y||q\"r|") != 0)
        printf("      got [%s]\n", out);

    n = run_capture("echo no $HOME * shell", TRUE, TRUE, out, sizeof out, &code);
    CHECK(strcmp(out, "no $HOME * shell\n") == 0, "CreateProcessA searches PATH and uses no shell");

    n = run_capture("sh -c \"exit 3\"", TRUE, TRUE, out, sizeof out, &code);
    CHECK(code == 3, "GetExitCodeProcess returns the exit code");

    snprintf(line, sizeof line, "\"%s\" --exit 7", self);
    run_capture(line, TRUE, TRUE, out, sizeof out, &code);
    CHECK(code == 7, "ExitProcess(7) in the child gives exit code 7");

    /* Only inheritable handles reach the child (S133). */
    n = run_capture("echo lost", FALSE, TRUE, out, sizeof out, &code);
    CHECK(n == 0 && GetLastError() == ERROR_BROKEN_PIPE,
          "S133 a non-inheritable stdout handle is not passed to the child");
    n = run_capture("echo lost", TRUE, FALSE, out, sizeof out, &code);
    CHECK(n == 0, "S133 bInheritHandles FALSE passes no handle");

    SetLastError(0);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    strcpy(line, "pipeslot-no-such-program-xyz arg");
    CHECK(!CreateProcessA(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)
              && GetLastError() == ERROR_FILE_NOT_FOUND,
          "CreateProcessA of a missing program -> ERROR_FILE_NOT_FOUND");
    SetLastError(0);
    CHECK(!CreateProcessA(NULL, NULL, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "CreateProcessA with no program -> ERROR_INVALID_PARAMETER");

    /* lpApplicationName with a command line, and an environment block. */
    strcpy(line, "sh -c \"exit $CODE\"");
    CHECK(CreateProcessA("/bin/sh", line, NULL, NULL, FALSE, 0, "CODE=4\0OTHER=x\0", NULL,
                         &si, &pi),
          "CreateProcessA with lpApplicationName and lpEnvironment");
    CHECK(WaitForSingleObject(pi.hProcess, INFINITE) == WAIT_OBJECT_0
              && GetExitCodeProcess(pi.hProcess, &code) && code == 4,
          "the environment block reaches the child");
    code = 0;
    CHECK(pi.hThread != NULL && pi.dwThreadId == pi.dwProcessId
              && WaitForSingleObject(pi.hThread, 0) == WAIT_OBJECT_0
              && GetExitCodeThread(pi.hThread, &code) && code == 4,
          "pi.hThread: the child's main thread, ended with the process, its exit code");
    CHECK(CloseHandle(pi.hThread), "CloseHandle accepts pi.hThread");
    SetLastError(0);
    CHECK(!CloseHandle(pi.hThread) && GetLastError() == ERROR_INVALID_HANDLE,
          "pi.hThread is invalid once closed");
    SetLastError(0);
    CHECK(!GetExitCodeProcess(pi.hProcess, NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
          "GetExitCodeProcess(h, NULL) -> ERROR_INVALID_PARAMETER");
    CloseHandle(pi.hProcess);

    /* Timeouts and STILL_ACTIVE. */
    strcpy(line, "sleep 0.5");
    CHECK(CreateProcessA(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi),
          "CreateProcessA(sleep 0.5)");
    CHECK(WaitForSingleObject(pi.hProcess, 10) == WAIT_TIMEOUT, "WaitForSingleObject -> WAIT_TIMEOUT");
    CHECK(GetExitCodeProcess(pi.hProcess, &code) && code == STILL_ACTIVE,
          "GetExitCodeProcess -> STILL_ACTIVE while running");
    CHECK(WaitForSingleObject(pi.hProcess, INFINITE) == WAIT_OBJECT_0
              && GetExitCodeProcess(pi.hProcess, &code) && code == 0,
          "WaitForSingleObject(INFINITE) -> WAIT_OBJECT_0, exit code 0");
    CHECK(pi.dwProcessId != 0 && pi.dwProcessId != GetCurrentProcessId(), "dwProcessId is the child's");
    CloseHandle(pi.hProcess);
    SetLastError(0);
    CHECK(WaitForSingleObject(pi.hProcess, 0) == WAIT_FAILED && GetLastError() == ERROR_INVALID_HANDLE,
          "a closed process handle -> ERROR_INVALID_HANDLE");

    /* S135: an inherited write end keeps the pipe open until the child ends. */
    {
        HANDLE r, w;
        SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
        char buf[8];
        DWORD start;
        CreatePipe(&r, &w, &sa, 0);
        strcpy(line, "sleep 0.6");
        CreateProcessA(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
        CloseHandle(w);
        start = GetTickCount();
        SetLastError(0);
        CHECK(!ReadFile(r, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BROKEN_PIPE
                  && GetTickCount() - start >= 300,
              "S135 ReadFile blocks while a child holds an inherited write end");
        CloseHandle(r);
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hProcess);

        CreatePipe(&r, &w, NULL, 0);
        CreateProcessA(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
        CloseHandle(w);
        start = GetTickCount();
        SetLastError(0);
        CHECK(!ReadFile(r, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BROKEN_PIPE
                  && GetTickCount() - start < 300,
              "S133 a non-inheritable write end is not inherited: end of data at once");
        CloseHandle(r);
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hProcess);
    }
}

#define PIPE_A "\\\\.\\pipe\\conformance\\a"
#define PIPE_B "\\\\.\\pipe\\conformance\\b"
#define PIPE_T "\\\\.\\pipe\\conformance\\transact"
#define PIPE_C "\\\\.\\pipe\\conformance\\call"
#define SLOT_A "\\\\.\\mailslot\\conformance\\inbox"

static HANDLE open_client(const char *name, DWORD access)
{
    return CreateFileA(name, access, 0, NULL, OPEN_EXISTING, 0, NULL);
}

static void test_named_pipe_names(void)
{
    HANDLE h;
    SetLastError(0);
    CHECK(CreateNamedPipeA(NULL, PIPE_ACCESS_DUPLEX, 0, 1, 0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_PATH_NOT_FOUND,
          "S10 CreateNamedPipeA(NULL) -> ERROR_PATH_NOT_FOUND");
    SetLastError(0);
    CHECK(CreateNamedPipeA("not a named pipe", PIPE_ACCESS_DUPLEX, 0, 1, 0, 0, 0, NULL)
                  == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_NAME,
          "S9 CreateNamedPipeA(bad name) -> ERROR_INVALID_NAME");
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_READMODE_MESSAGE, 1,
                           0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S13 PIPE_TYPE_BYTE|PIPE_READMODE_MESSAGE -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, 0, 0, 1, 0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S12 no access mode -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX | 0x100, 0, 1, 0, 0, 0, NULL)
                  == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S12 undocumented dwOpenMode bit -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, 0x10, 1, 0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S12 undocumented dwPipeMode bit -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, 0, 0, 0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S15 nMaxInstances 0 -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, 0, 256, 0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S15 nMaxInstances 256 -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(open_client(PIPE_A, GENERIC_READ | GENERIC_WRITE) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_FILE_NOT_FOUND,
          "S28 CreateFileA on a pipe without instances -> ERROR_FILE_NOT_FOUND");
    SetLastError(0);
    CHECK(!WaitNamedPipeA(PIPE_A, 2000) && GetLastError() == ERROR_FILE_NOT_FOUND,
          "S35 WaitNamedPipeA without instances -> ERROR_FILE_NOT_FOUND at once");
    SetLastError(0);
    CHECK(!WaitNamedPipeA("\\\\.\\notpipe\\x", 10) && GetLastError() == ERROR_BAD_PATHNAME,
          "S11 WaitNamedPipeA(malformed) -> ERROR_BAD_PATHNAME (ReactOS, documented)");
    SetLastError(0);
    CHECK(!WaitNamedPipeA(NULL, 10) && GetLastError() == ERROR_BAD_PATHNAME,
          "S11 WaitNamedPipeA(NULL) -> ERROR_BAD_PATHNAME (documented)");
    SetLastError(0);
    CHECK(open_client("\\\\.\\pipe\\", GENERIC_READ) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_NAME,
          "S8 CreateFileA on a pipe name without a path -> ERROR_INVALID_NAME");
    SetLastError(0);
    CHECK(!CallNamedPipeA(PIPE_A, "x", 1, NULL, 0, NULL, NMPWAIT_NOWAIT)
              && GetLastError() == ERROR_FILE_NOT_FOUND,
          "S124 CallNamedPipeA without instances -> ERROR_FILE_NOT_FOUND");
    /* S4: the pipe component is matched without regard to case. */
    h = CreateNamedPipeA("\\\\.\\PiPe\\conformance\\case", PIPE_ACCESS_DUPLEX, 0, 1, 0, 0, 0, NULL);
    CHECK(h != INVALID_HANDLE_VALUE, "S4 CreateNamedPipeA(\\\\.\\PiPe\\...)");
    {
        HANDLE c = open_client("\\\\.\\pipe\\CONFORMANCE\\CASE", GENERIC_READ | GENERIC_WRITE);
        CHECK(c != INVALID_HANDLE_VALUE, "S4 names compare without regard to case");
        CloseHandle(c);
    }
    CloseHandle(h);
}

static void test_named_pipe_instances(void)
{
    HANDLE first, second, third, c1, c2;
    SetLastError(77);
    first = CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 2, 1024, 1024, 0, NULL);
    CHECK(first != INVALID_HANDLE_VALUE && GetLastError() == ERROR_SUCCESS,
          "S20 first instance: last error ERROR_SUCCESS");
    second = CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 2, 1024, 1024, 0, NULL);
    CHECK(second != INVALID_HANDLE_VALUE && GetLastError() == ERROR_ALREADY_EXISTS,
          "S20 later instance: success with ERROR_ALREADY_EXISTS");
    SetLastError(0);
    third = CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 2, 1024, 1024, 0, NULL);
    CHECK(third == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY,
          "S22 instance limit reached -> ERROR_PIPE_BUSY");
    CloseHandle(second);
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, PIPE_ACCESS_INBOUND, PIPE_TYPE_MESSAGE, 2, 0, 0, 0, NULL)
                  == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_ACCESS_DENIED,
          "S23 different access mode -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                           PIPE_TYPE_MESSAGE, 2, 0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_ACCESS_DENIED,
          "S25 FILE_FLAG_FIRST_PIPE_INSTANCE on a live name -> ERROR_ACCESS_DENIED");
    CHECK(WaitNamedPipeA(PIPE_A, 1), "S36 WaitNamedPipeA with a listening instance -> TRUE");
    c1 = open_client(PIPE_A, GENERIC_READ | GENERIC_WRITE);
    CHECK(c1 != INVALID_HANDLE_VALUE, "S29 client opens before ConnectNamedPipe");
    SetLastError(0);
    c2 = open_client(PIPE_A, GENERIC_READ | GENERIC_WRITE);
    CHECK(c2 == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY,
          "S30 no listening instance -> ERROR_PIPE_BUSY");
    SetLastError(0);
    CHECK(!WaitNamedPipeA(PIPE_A, 20) && GetLastError() == ERROR_SEM_TIMEOUT,
          "S37 WaitNamedPipeA on a busy pipe -> ERROR_SEM_TIMEOUT");
    CloseHandle(c1);
    CloseHandle(first);
    SetLastError(0);
    CHECK(open_client(PIPE_A, GENERIC_READ) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_FILE_NOT_FOUND,
          "S27 every instance closed -> ERROR_FILE_NOT_FOUND");
}

/* S19-S31 across processes: a child (this program, --instance-child)
   adds an instance to the name this process created; clients reach it in
   the order of S31 and are served there. */
#define PIPE_MP "\\\\.\\pipe\\conformance\\processes"

static int instance_child(void)
{
    int failed = 0;
    char buf[64];
    DWORD n = 0;
    HANDLE s;
    SetLastError(0);
    if (CreateNamedPipeA(PIPE_MP, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                         PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 3, 512, 512, 0, NULL)
            != INVALID_HANDLE_VALUE
        || GetLastError() != ERROR_ACCESS_DENIED)
        failed |= 1; /* S25 */
    SetLastError(0);
    s = CreateNamedPipeA(PIPE_MP, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 3,
                         512, 512, 0, NULL);
    if (s == INVALID_HANDLE_VALUE || GetLastError() != ERROR_ALREADY_EXISTS)
        return failed | 2; /* S21, S20 */
    if (!ConnectNamedPipe(s, NULL) && GetLastError() != ERROR_PIPE_CONNECTED)
        return failed | 4;
    if (!ReadFile(s, buf + 6, sizeof buf - 6, &n, NULL))
        return failed | 8;
    memcpy(buf, "child:", 6);
    if (!WriteFile(s, buf, n + 6, &n, NULL))
        return failed | 16;
    FlushFileBuffers(s);
    CloseHandle(s);
    return failed;
}

static void test_named_pipe_instances_in_two_processes(void)
{
    HANDLE s, c1, c2;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    char command[1024], reply[64];
    DWORD n = 0, code = 99, mode = PIPE_READMODE_MESSAGE;
    ULONG pid = 0;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    s = CreateNamedPipeA(PIPE_MP, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 3,
                         512, 512, 0, NULL);
    c1 = open_client(PIPE_MP, GENERIC_READ | GENERIC_WRITE);
    CHECK(s != INVALID_HANDLE_VALUE && c1 != INVALID_HANDLE_VALUE,
          "S31 the first client gets this process's instance (listening longest)");
    snprintf(command, sizeof command, "%s --instance-child", self);
    CHECK(CreateProcessA(NULL, command, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi),
          "a child process to add an instance");
    CHECK(WaitNamedPipeA(PIPE_MP, 10000), "S21 S36 the child's instance of the name listens");
    c2 = open_client(PIPE_MP, GENERIC_READ | GENERIC_WRITE);
    CHECK(c2 != INVALID_HANDLE_VALUE && SetNamedPipeHandleState(c2, &mode, NULL, NULL)
              && TransactNamedPipe(c2, "ping", 4, reply, sizeof reply, &n, NULL) && n == 10
              && memcmp(reply, "child:ping", 10) == 0,
          "S31 the next client is bound to the child's instance and served there");
    CHECK(GetNamedPipeServerProcessId(c2, &pid) && pid == pi.dwProcessId,
          "S125 GetNamedPipeServerProcessId names the process serving the instance");
    CHECK(WaitForSingleObject(pi.hProcess, 10000) == WAIT_OBJECT_0 && GetExitCodeProcess(pi.hProcess, &code)
              && code == 0,
          "S20 S21 S25 in the child: ERROR_ALREADY_EXISTS for its instance, FIRST_PIPE_INSTANCE refused");
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    CloseHandle(c2);
    CloseHandle(c1);
    CloseHandle(s);
}

static void test_named_pipe_io(void)
{
    HANDLE s, c;
    char buf[64], user[256], host[256];
    DWORD n = 0, avail = 0, left = 0, state = 9, inst = 0, flags = 0, out = 0, in = 0, max = 0, mode;
    DWORD dummy = 0;
    ULONG pid = 0;
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    s = CreateNamedPipeA(PIPE_A, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 3,
                         1024, 2048, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE, "CreateNamedPipeA(message pipe)");
    SetLastError(0);
    CHECK(!ReadFile(s, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_PIPE_LISTENING,
          "S70 ReadFile on a server that never had a client -> ERROR_PIPE_LISTENING");
    SetLastError(0);
    CHECK(!WriteFile(s, "x", 1, &n, NULL) && GetLastError() == ERROR_PIPE_LISTENING,
          "S70 WriteFile on a listening server -> ERROR_PIPE_LISTENING");
    SetLastError(0);
    CHECK(!PeekNamedPipe(s, NULL, 0, NULL, NULL, NULL) && GetLastError() == ERROR_BAD_PIPE,
          "S85 PeekNamedPipe on a listening server -> ERROR_BAD_PIPE");
    CHECK(FlushFileBuffers(s), "S85 FlushFileBuffers on a listening server succeeds");
    c = open_client(PIPE_A, GENERIC_READ | GENERIC_WRITE);
    CHECK(c != INVALID_HANDLE_VALUE, "CreateFileA(pipe, GENERIC_READ|GENERIC_WRITE)");
    SetLastError(0);
    CHECK(!ConnectNamedPipe(s, &ov) && GetLastError() == ERROR_PIPE_CONNECTED,
          "S42 ConnectNamedPipe with an OVERLAPPED on a synchronous handle runs synchronously");
    SetLastError(0);
    CHECK(!ConnectNamedPipe(s, NULL) && GetLastError() == ERROR_PIPE_CONNECTED,
          "S29 S42 ConnectNamedPipe after the client opened -> ERROR_PIPE_CONNECTED");
    SetLastError(0);
    CHECK(!ConnectNamedPipe(c, NULL) && GetLastError() == ERROR_INVALID_FUNCTION,
          "S34 ConnectNamedPipe on a client -> ERROR_INVALID_FUNCTION");

    CHECK(GetNamedPipeInfo(s, &flags, &out, &in, &max) && flags == (PIPE_SERVER_END | PIPE_TYPE_MESSAGE)
              && out == 1024 && in == 2048 && max == 3,
          "S105 S106 GetNamedPipeInfo(server): flags 5, sizes as given, max 3");
    CHECK(GetNamedPipeInfo(c, &flags, &out, &in, &max) && flags == PIPE_TYPE_MESSAGE && out == 1024
              && in == 2048,
          "S105 S107 GetNamedPipeInfo(client): flags 4, the server's sizes");
    CHECK(GetNamedPipeHandleStateA(s, &state, &inst, NULL, NULL, NULL, 0)
              && state == PIPE_READMODE_MESSAGE && inst == 1,
          "S104 server handle state: message read mode, 1 instance");
    CHECK(GetNamedPipeHandleStateA(c, &state, NULL, NULL, NULL, NULL, 0) && state == 0,
          "S33 a client starts in byte read mode, blocking");
    CHECK(GetNamedPipeHandleStateA(s, NULL, NULL, NULL, NULL, NULL, 0),
          "S104 GetNamedPipeHandleStateA with every pointer NULL");
    SetLastError(0);
    CHECK(!GetNamedPipeHandleStateA(s, &state, &inst, &dummy, &dummy, NULL, 0)
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S103 collection count/timeout on a local pipe -> ERROR_INVALID_PARAMETER");
    CHECK(GetNamedPipeHandleStateA(s, NULL, NULL, NULL, NULL, user, sizeof user) && user[0] != 0,
          "GetNamedPipeHandleStateA(server) gives the client's user name");
    SetLastError(0);
    CHECK(!GetNamedPipeHandleStateA(c, NULL, NULL, NULL, NULL, user, sizeof user)
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "GetNamedPipeHandleStateA(client, lpUserName) -> ERROR_INVALID_PARAMETER");

    /* S125, S126: process ids. */
    CHECK(GetNamedPipeClientProcessId(s, &pid) && pid == (ULONG)getpid(),
          "S125 client pid from the server");
    CHECK(GetNamedPipeServerProcessId(c, &pid) && pid == (ULONG)getpid(),
          "S125 server pid from the client");
    CHECK(GetNamedPipeClientProcessId(c, &pid) && GetNamedPipeServerProcessId(s, &pid)
              && pid == (ULONG)getpid(),
          "S125 own pid from either end");
    SetLastError(0);
    CHECK(!GetNamedPipeClientProcessId(s, NULL) && GetLastError() == ERROR_INSUFFICIENT_BUFFER,
          "S126 NULL pid pointer -> ERROR_INSUFFICIENT_BUFFER");
    gethostname(host, sizeof host);
    CHECK(GetNamedPipeClientComputerNameA(s, buf, sizeof buf) && strcmp(buf, host) == 0,
          "GetNamedPipeClientComputerNameA: this machine for a local client");
    SetLastError(0);
    CHECK(!GetNamedPipeClientComputerNameA(s, buf, 1) && GetLastError() == ERROR_INSUFFICIENT_BUFFER,
          "GetNamedPipeClientComputerNameA into 1 byte -> ERROR_INSUFFICIENT_BUFFER");

    /* S61, S62: messages and ERROR_MORE_DATA. */
    CHECK(WriteFile(c, "hello world", 11, &n, NULL) && n == 11, "client writes an 11-byte message");
    CHECK(WriteFile(c, "0123456789", 10, &n, NULL) && n == 10, "client writes a 10-byte message");
    CHECK(PeekNamedPipe(s, buf, 4, &n, &avail, &left) && n == 4 && avail == 21 && left == 7,
          "S92 peek 4 of the first message -> (4, 21, 7)");
    n = 99;
    SetLastError(0);
    CHECK(!ReadFile(s, buf, 4, &n, NULL) && GetLastError() == ERROR_MORE_DATA && n == 4
              && memcmp(buf, "hell", 4) == 0,
          "S62 ReadFile 4 of 11 -> FALSE + ERROR_MORE_DATA, 4 bytes copied");
    SetLastError(0);
    CHECK(!ReadFile(s, buf, 4, &n, NULL) && GetLastError() == ERROR_MORE_DATA && n == 4,
          "S62 again ERROR_MORE_DATA");
    CHECK(ReadFile(s, buf, 4, &n, NULL) && n == 3 && memcmp(buf, "rld", 3) == 0,
          "S62 the last piece -> TRUE, 3 bytes");
    CHECK(ReadFile(s, buf, sizeof buf, &n, NULL) && n == 10, "S61 the next read is the next message");
    CHECK(FlushFileBuffers(c), "S74 FlushFileBuffers(client) once the server read everything");

    /* S64: the client in byte mode crosses message boundaries. */
    WriteFile(s, "first", 5, &n, NULL);
    WriteFile(s, "second", 6, &n, NULL);
    CHECK(ReadFile(c, buf, sizeof buf, &n, NULL) && n == 11 && memcmp(buf, "firstsecond", 11) == 0,
          "S64 byte read mode joins messages");
    mode = PIPE_READMODE_MESSAGE;
    CHECK(SetNamedPipeHandleState(c, &mode, NULL, NULL), "S99 the client switches to message mode");
    CHECK(GetNamedPipeHandleStateA(c, &state, NULL, NULL, NULL, NULL, 0)
              && state == PIPE_READMODE_MESSAGE,
          "S104 the client's state follows");
    CHECK(GetNamedPipeHandleStateA(s, &state, NULL, NULL, NULL, NULL, 0)
              && state == PIPE_READMODE_MESSAGE,
          "S100 the server's mode is its own");
    mode = 4;
    SetLastError(0);
    CHECK(!SetNamedPipeHandleState(c, &mode, NULL, NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
          "S101 mode bit 4 -> ERROR_INVALID_PARAMETER");
    mode = 0;
    SetLastError(0);
    CHECK(!SetNamedPipeHandleState(c, &mode, &dummy, NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
          "S103 lpMaxCollectionCount non-NULL -> ERROR_INVALID_PARAMETER");
    CHECK(SetNamedPipeHandleState(c, NULL, NULL, NULL), "SetNamedPipeHandleState(NULL mode) changes nothing");
    mode = PIPE_NOWAIT | PIPE_READMODE_MESSAGE;
    CHECK(SetNamedPipeHandleState(s, &mode, NULL, NULL), "S78 the server switches to PIPE_NOWAIT");
    SetLastError(0);
    CHECK(!ReadFile(s, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_NO_DATA && n == 0,
          "S76 PIPE_NOWAIT read of an empty pipe -> ERROR_NO_DATA");
    mode = PIPE_READMODE_MESSAGE;
    SetNamedPipeHandleState(s, &mode, NULL, NULL);

    /* S111: transact with unread data waiting. */
    WriteFile(s, "pending", 7, &n, NULL);
    SetLastError(0);
    CHECK(!TransactNamedPipe(c, "q", 1, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_PIPE_BUSY,
          "S111 TransactNamedPipe with unread data -> ERROR_PIPE_BUSY");
    SetLastError(0);
    CHECK(!TransactNamedPipe(c, "q", 1, buf, sizeof buf, &n, &ov) && GetLastError() == ERROR_PIPE_BUSY,
          "S111 TransactNamedPipe with an OVERLAPPED on a synchronous handle runs synchronously");
    CHECK(ReadFile(c, buf, sizeof buf, &n, NULL) && n == 7, "S111 the waiting data stays readable");

    /* S49-S52, S57, S88, S128: disconnect. */
    WriteFile(c, "lost", 4, &n, NULL);
    CHECK(DisconnectNamedPipe(s), "S49 DisconnectNamedPipe with unread data");
    SetLastError(0);
    CHECK(!DisconnectNamedPipe(s) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S51 a second disconnect -> ERROR_PIPE_NOT_CONNECTED");
    SetLastError(0);
    CHECK(!DisconnectNamedPipe(c) && GetLastError() == ERROR_INVALID_FUNCTION,
          "DisconnectNamedPipe on a client -> ERROR_INVALID_FUNCTION (documented)");
    SetLastError(0);
    CHECK(!ReadFile(c, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S50 client ReadFile after disconnect -> ERROR_PIPE_NOT_CONNECTED");
    SetLastError(0);
    CHECK(!WriteFile(c, "x", 1, &n, NULL) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S50 client WriteFile after disconnect -> ERROR_PIPE_NOT_CONNECTED");
    SetLastError(0);
    CHECK(!WriteFile(s, "x", 1, &n, NULL) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S50 server WriteFile after disconnect -> ERROR_PIPE_NOT_CONNECTED");
    SetLastError(0);
    CHECK(!PeekNamedPipe(c, NULL, 0, NULL, NULL, NULL) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S52 PeekNamedPipe(client) -> ERROR_PIPE_NOT_CONNECTED");
    SetLastError(0);
    CHECK(!PeekNamedPipe(s, NULL, 0, NULL, NULL, NULL) && GetLastError() == ERROR_BAD_PIPE,
          "S52 PeekNamedPipe(server) -> ERROR_BAD_PIPE");
    SetLastError(0);
    CHECK(!FlushFileBuffers(c) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S57 FlushFileBuffers(client) after disconnect -> ERROR_PIPE_NOT_CONNECTED");
    CHECK(FlushFileBuffers(s), "S57 FlushFileBuffers(server) after disconnect succeeds");
    SetLastError(0);
    CHECK(!TransactNamedPipe(s, "q", 1, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BAD_PIPE,
          "S118 TransactNamedPipe on a disconnected server -> ERROR_BAD_PIPE");
    SetLastError(0);
    CHECK(!GetNamedPipeClientProcessId(s, &pid) && GetLastError() == ERROR_NOT_FOUND,
          "S128 client pid after disconnect -> ERROR_NOT_FOUND");
    CHECK(GetNamedPipeServerProcessId(s, &pid), "S128 server pid from the server still works");
    SetLastError(0);
    CHECK(!GetNamedPipeServerProcessId(c, &pid) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S128 server pid from a disconnected client -> ERROR_PIPE_NOT_CONNECTED");
    SetLastError(0);
    CHECK(!GetNamedPipeInfo(c, NULL, NULL, NULL, NULL) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S108 GetNamedPipeInfo on a disconnected client -> ERROR_PIPE_NOT_CONNECTED");
    CHECK(CloseHandle(c), "S56 the forced-off client still closes");

    /* S44: ConnectNamedPipe listens again. */
    c = open_client(PIPE_A, GENERIC_READ | GENERIC_WRITE);
    CHECK(c == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY,
          "S30 disconnected but not re-listened -> ERROR_PIPE_BUSY");
    mode = PIPE_NOWAIT | PIPE_READMODE_MESSAGE;
    SetNamedPipeHandleState(s, &mode, NULL, NULL);
    SetLastError(0);
    CHECK(!ConnectNamedPipe(s, NULL) && GetLastError() == ERROR_PIPE_LISTENING,
          "S47 PIPE_NOWAIT ConnectNamedPipe with no client -> ERROR_PIPE_LISTENING");
    c = open_client(PIPE_A, GENERIC_READ | GENERIC_WRITE);
    CHECK(c != INVALID_HANDLE_VALUE, "S44 a client connects after the instance listens again");

    /* S79-S81, S84: the client closes. */
    WriteFile(c, "twelve bytes", 12, &n, NULL);
    CloseHandle(c);
    mode = PIPE_READMODE_MESSAGE;
    CHECK(SetNamedPipeHandleState(s, &mode, NULL, NULL), "S82 handle state calls work after the peer closed");
    CHECK(PeekNamedPipe(s, NULL, 0, NULL, &avail, NULL) && avail == 12, "S79 peek sees the 12 bytes");
    CHECK(ReadFile(s, buf, sizeof buf, &n, NULL) && n == 12, "S79 the 12 bytes are read");
    SetLastError(0);
    CHECK(!ReadFile(s, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BROKEN_PIPE,
          "S80 then ReadFile -> ERROR_BROKEN_PIPE");
    SetLastError(0);
    CHECK(!WriteFile(s, "x", 1, &n, NULL) && GetLastError() == ERROR_NO_DATA,
          "S81 WriteFile to a closed client -> ERROR_NO_DATA");
    SetLastError(0);
    CHECK(!ConnectNamedPipe(s, NULL) && GetLastError() == ERROR_NO_DATA,
          "S43 ConnectNamedPipe after the client closed -> ERROR_NO_DATA");
    CHECK(DisconnectNamedPipe(s), "S53 DisconnectNamedPipe after the client closed");
    CHECK(CloseHandle(s), "CloseHandle(server)");
    SetLastError(0);
    CHECK(!ReadFile(s, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "a closed server handle -> ERROR_INVALID_HANDLE");
}

static void test_named_pipe_access(void)
{
    HANDLE s, c;
    DWORD mode = 0, n;
    s = CreateNamedPipeA(PIPE_B, PIPE_ACCESS_OUTBOUND, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    SetLastError(0);
    CHECK(open_client(PIPE_B, GENERIC_WRITE) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_ACCESS_DENIED,
          "S32 GENERIC_WRITE on an OUTBOUND pipe -> ERROR_ACCESS_DENIED");
    c = open_client(PIPE_B, GENERIC_READ);
    CHECK(c != INVALID_HANDLE_VALUE, "S32 GENERIC_READ on an OUTBOUND pipe");
    SetLastError(0);
    CHECK(!SetNamedPipeHandleState(c, &mode, NULL, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S102 SetNamedPipeHandleState on a read-only client -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(!ReadFile(s, &mode, 1, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S18 ReadFile on an OUTBOUND server -> ERROR_ACCESS_DENIED");
    mode = PIPE_READMODE_MESSAGE;
    SetLastError(0);
    CHECK(!SetNamedPipeHandleState(s, &mode, NULL, NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
          "S98 message read mode on a byte pipe -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(!TransactNamedPipe(s, "q", 1, &mode, sizeof mode, &n, NULL) && GetLastError() == ERROR_BAD_PIPE,
          "S109 TransactNamedPipe on a byte pipe -> ERROR_BAD_PIPE");
    CloseHandle(c);
    CloseHandle(s);
    s = CreateNamedPipeA(PIPE_B, PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    mode = 0;
    SetLastError(0);
    CHECK(!SetNamedPipeHandleState(s, &mode, NULL, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S102 SetNamedPipeHandleState on an INBOUND server -> ERROR_ACCESS_DENIED");
    CloseHandle(s);
}

/* Serves one request on `arg` (a server handle): reads it, replies with
   the 10-byte "0123456789". */
static void *reply_once(void *arg)
{
    HANDLE s = (HANDLE)arg;
    char buf[64];
    DWORD n;
    ConnectNamedPipe(s, NULL);
    if (ReadFile(s, buf, sizeof buf, &n, NULL))
        WriteFile(s, "0123456789", 10, &n, NULL);
    FlushFileBuffers(s);
    DisconnectNamedPipe(s);
    return NULL;
}

static void test_transact_and_call(void)
{
    HANDLE s, c;
    pthread_t thread;
    char buf[64];
    DWORD n = 0, mode = PIPE_READMODE_MESSAGE;
    s = CreateNamedPipeA(PIPE_T, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         0, 0, 0, NULL);
    c = open_client(PIPE_T, GENERIC_READ | GENERIC_WRITE);
    SetLastError(0);
    CHECK(!TransactNamedPipe(c, "q", 1, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BAD_PIPE,
          "S110 TransactNamedPipe in byte read mode -> ERROR_BAD_PIPE");
    SetNamedPipeHandleState(c, &mode, NULL, NULL);
    pthread_create(&thread, NULL, reply_once, s);
    n = 99;
    SetLastError(0);
    CHECK(!TransactNamedPipe(c, "abc", 3, buf, 6, &n, NULL) && GetLastError() == ERROR_MORE_DATA
              && n == 6 && memcmp(buf, "012345", 6) == 0,
          "S112 S113 TransactNamedPipe: 10-byte reply into 6 -> ERROR_MORE_DATA, 6 bytes");
    CHECK(ReadFile(c, buf, sizeof buf, &n, NULL) && n == 4 && memcmp(buf, "6789", 4) == 0,
          "S113 the rest of the reply is read with ReadFile");
    pthread_join(thread, NULL);
    CloseHandle(c);
    CloseHandle(s);

    s = CreateNamedPipeA(PIPE_C, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         0, 0, 0, NULL);
    pthread_create(&thread, NULL, reply_once, s);
    CHECK(CallNamedPipeA(PIPE_C, "hi", 2, buf, sizeof buf, &n, NMPWAIT_WAIT_FOREVER) && n == 10
              && memcmp(buf, "0123456789", 10) == 0,
          "S120 CallNamedPipeA: open, message mode, transact, close");
    pthread_join(thread, NULL);
    CloseHandle(s);

    s = CreateNamedPipeA(PIPE_C, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         0, 0, 0, NULL);
    pthread_create(&thread, NULL, reply_once, s);
    SetLastError(0);
    CHECK(!CallNamedPipeA(PIPE_C, "hi", 2, buf, 4, &n, NMPWAIT_USE_DEFAULT_WAIT)
              && GetLastError() == ERROR_MORE_DATA && n == 4,
          "S122 CallNamedPipeA with a short buffer -> ERROR_MORE_DATA");
    pthread_join(thread, NULL);
    CloseHandle(s);

    s = CreateNamedPipeA(PIPE_C, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    SetLastError(0);
    CHECK(!CallNamedPipeA(PIPE_C, "hi", 2, buf, sizeof buf, &n, NMPWAIT_NOWAIT)
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "S123 CallNamedPipeA on a byte pipe -> ERROR_INVALID_PARAMETER");
    CloseHandle(s);
}

static void test_files(void)
{
    char path[256], buf[64];
    HANDLE f;
    DWORD n = 0;
    snprintf(path, sizeof path, "/tmp/pipeslot-win32-conformance-%d.txt", (int)getpid());
    unlink(path);
    SetLastError(0);
    CHECK(CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL)
                  == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_FILE_NOT_FOUND,
          "CreateFileA(OPEN_EXISTING) of a missing file -> ERROR_FILE_NOT_FOUND");
    f = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_TEMPORARY, NULL);
    CHECK(f != INVALID_HANDLE_VALUE, "CreateFileA(CREATE_NEW)");
    CHECK(WriteFile(f, "file data", 9, &n, NULL) && n == 9, "WriteFile to a file");
    CHECK(FlushFileBuffers(f), "FlushFileBuffers(file)");
    SetLastError(0);
    CHECK(!ReadFile(f, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "ReadFile on a write-only file -> ERROR_ACCESS_DENIED");
    CloseHandle(f);
    SetLastError(0);
    CHECK(CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_FILE_EXISTS,
          "CreateFileA(CREATE_NEW) of an existing file -> ERROR_FILE_EXISTS");
    SetLastError(0);
    f = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_ALWAYS, 0, NULL);
    CHECK(f != INVALID_HANDLE_VALUE && GetLastError() == ERROR_ALREADY_EXISTS,
          "CreateFileA(OPEN_ALWAYS) of an existing file -> ERROR_ALREADY_EXISTS");
    CHECK(ReadFile(f, buf, sizeof buf, &n, NULL) && n == 9 && memcmp(buf, "file data", 9) == 0,
          "ReadFile from a file");
    n = 5;
    CHECK(ReadFile(f, buf, sizeof buf, &n, NULL) && n == 0, "ReadFile at end of file -> TRUE, 0 bytes");
    SetLastError(0);
    CHECK(!WriteFile(f, "x", 1, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "WriteFile on a read-only file -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(!PeekNamedPipe(f, NULL, 0, NULL, NULL, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "PeekNamedPipe on a file -> ERROR_INVALID_HANDLE");
    CloseHandle(f);
    SetLastError(0);
    CHECK(CreateFileA(path, GENERIC_READ, 0, NULL, TRUNCATE_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "CreateFileA(TRUNCATE_EXISTING) without GENERIC_WRITE -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    f = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    CHECK(f != INVALID_HANDLE_VALUE && GetLastError() == ERROR_ALREADY_EXISTS
              && ReadFile(f, buf, sizeof buf, &n, NULL) && n == 0,
          "CreateFileA(CREATE_ALWAYS) truncates, ERROR_ALREADY_EXISTS");
    CloseHandle(f);
    SetLastError(0);
    CHECK(CreateFileA(path, GENERIC_READ, 0, NULL, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "CreateFileA with disposition 0 -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(CreateFileA("/tmp", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_ACCESS_DENIED,
          "CreateFileA on a directory -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(CreateFileA(NULL, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_PATH_NOT_FOUND,
          "CreateFileA(NULL) -> ERROR_PATH_NOT_FOUND (documented)");
    unlink(path);
}

/* Blocks in ReadFile on the mailslot `param`; returns the bytes read. */
static DWORD WINAPI read_mailslot_blocking(LPVOID param)
{
    char buf[64];
    DWORD n = 0;
    if (!ReadFile((HANDLE)param, buf, sizeof buf, &n, NULL))
        return 0xFFFFFFFF;
    return n;
}

/* S151: GetMailslotInfo does not wait while another thread is blocked in
 * ReadFile on the same mailslot. */
static void test_mailslot_info_beside_blocked_read(void)
{
    HANDLE slot, writer, t;
    DWORD count = 99, n = 0, got = 0, start;
    slot = CreateMailslotA("\\\\.\\mailslot\\conformance\\blocked", 0, MAILSLOT_WAIT_FOREVER, NULL);
    t = CreateThread(NULL, 0, read_mailslot_blocking, slot, 0, NULL);
    Sleep(100); /* let it block */
    start = GetTickCount();
    CHECK(GetMailslotInfo(slot, NULL, NULL, &count, NULL) && count == 0 && GetTickCount() - start < 5000,
          "S151 GetMailslotInfo returns while another thread is blocked in ReadFile");
    writer = CreateFileA("\\\\.\\mailslot\\conformance\\blocked", GENERIC_WRITE, FILE_SHARE_READ,
                         NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    CHECK(WriteFile(writer, "wake", 4, &n, NULL) && n == 4, "a message for the blocked reader");
    CHECK(WaitForSingleObject(t, 10000) == WAIT_OBJECT_0 && GetExitCodeThread(t, &got) && got == 4,
          "S147 the blocked ReadFile returns the message");
    CloseHandle(t);
    CloseHandle(writer);
    CloseHandle(slot);
}

static void test_mailslots(void)
{
    HANDLE slot, w1, w2;
    DWORD max = 0, next = 0, count = 9, timeout = 0, n = 0, start;
    char buf[64];
    SetLastError(0);
    CHECK(CreateMailslotA("blah", 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_NAME,
          "S142 CreateMailslotA(\"blah\") -> ERROR_INVALID_NAME");
    SetLastError(0);
    CHECK(CreateMailslotA(NULL, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_PATH_NOT_FOUND,
          "S142 CreateMailslotA(NULL) -> ERROR_PATH_NOT_FOUND");
    SetLastError(0);
    CHECK(CreateFileA(SLOT_A, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL)
                  == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_FILE_NOT_FOUND,
          "S155 CreateFileA on a missing mailslot -> ERROR_FILE_NOT_FOUND");
    slot = CreateMailslotA(SLOT_A, (DWORD)-1, MAILSLOT_WAIT_FOREVER, NULL);
    CHECK(slot != INVALID_HANDLE_VALUE, "S139 CreateMailslotA(\\\\.\\mailslot\\conformance\\inbox)");
    CHECK(GetMailslotInfo(slot, &max, &next, &count, &timeout) && max == 0xFFFFFFFFu
              && next == MAILSLOT_NO_MESSAGE && count == 0 && timeout == MAILSLOT_WAIT_FOREVER,
          "S144 GetMailslotInfo after (-1, -1)");
    SetLastError(0);
    CHECK(CreateMailslotA(SLOT_A, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_ALREADY_EXISTS,
          "S143 a second CreateMailslotA of the name -> ERROR_ALREADY_EXISTS");
    CloseHandle(slot);
    slot = CreateMailslotA(SLOT_A, 0, 0, NULL);
    CHECK(slot != INVALID_HANDLE_VALUE, "S156 the name can be created again after the close");
    CHECK(GetMailslotInfo(slot, &max, NULL, NULL, &timeout) && max == 0 && timeout == 0,
          "S144 GetMailslotInfo after (0, 0)");
    CHECK(GetMailslotInfo(slot, NULL, NULL, NULL, NULL), "S151 every out pointer may be NULL");
    SetLastError(0);
    CHECK(!ReadFile(slot, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_SEM_TIMEOUT,
          "S145 ReadFile of an empty mailslot, timeout 0 -> ERROR_SEM_TIMEOUT");
    SetLastError(0);
    CHECK(!ReadFile(slot, buf, 0, &n, NULL) && GetLastError() == ERROR_SEM_TIMEOUT,
          "S145 also with a 0-byte buffer");
    w1 = CreateFileA(SLOT_A, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                     FILE_ATTRIBUTE_NORMAL, NULL);
    w2 = CreateFileA(SLOT_A, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                     OPEN_EXISTING, 0, NULL);
    CHECK(w1 != INVALID_HANDLE_VALUE && w2 != INVALID_HANDLE_VALUE,
          "S154 two writers open with CreateFileA");
    CHECK(WriteFile(w1, "a", 1, &n, NULL) && n == 1, "S154 a writer writes");
    CHECK(WriteFile(w2, "bc", 2, &n, NULL) && n == 2, "S148 a second writer writes");
    CHECK(WriteFile(w1, "", 0, &n, NULL) && n == 0, "S149 a zero-length message");
    CHECK(GetMailslotInfo(slot, NULL, &next, &count, NULL) && next == 1 && count == 3,
          "S151 next size 1, count 3");
    SetLastError(0);
    CHECK(!WriteFile(slot, "x", 1, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S153 WriteFile on the mailslot handle -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(!ReadFile(w2, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S154 ReadFile on a writer handle -> ERROR_ACCESS_DENIED");
    CHECK(ReadFile(slot, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'a',
          "S148 the first message comes first, whole");
    SetLastError(0);
    CHECK(!ReadFile(slot, buf, 1, &n, NULL) && GetLastError() == ERROR_INSUFFICIENT_BUFFER,
          "S150 a buffer smaller than the message -> ERROR_INSUFFICIENT_BUFFER");
    CHECK(GetMailslotInfo(slot, NULL, &next, &count, NULL) && next == 2 && count == 2,
          "S150 the message stays queued");
    CHECK(ReadFile(slot, buf, sizeof buf, &n, NULL) && n == 2 && memcmp(buf, "bc", 2) == 0,
          "S148 then the second message");
    CHECK(GetMailslotInfo(slot, NULL, &next, &count, NULL) && next == 0 && count == 1,
          "S151 a queued empty message has next size 0");
    n = 7;
    CHECK(ReadFile(slot, buf, sizeof buf, &n, NULL) && n == 0, "S149 the empty message reads as TRUE, 0");
    CHECK(GetMailslotInfo(slot, NULL, &next, &count, NULL) && next == MAILSLOT_NO_MESSAGE && count == 0,
          "S151 empty again: MAILSLOT_NO_MESSAGE, 0");
    CHECK(SetMailslotInfo(slot, 150), "S152 SetMailslotInfo(150 ms)");
    CHECK(GetMailslotInfo(slot, NULL, NULL, NULL, &timeout) && timeout == 150,
          "S152 the new timeout is reported");
    start = GetTickCount();
    SetLastError(0);
    CHECK(!ReadFile(slot, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_SEM_TIMEOUT
              && GetTickCount() - start >= 120,
          "S146 a timed read waits, then ERROR_SEM_TIMEOUT");
    SetLastError(0);
    CHECK(!GetMailslotInfo(INVALID_HANDLE_VALUE, NULL, NULL, NULL, NULL)
              && GetLastError() == ERROR_INVALID_HANDLE,
          "S151 GetMailslotInfo(INVALID_HANDLE_VALUE) fails");
    SetLastError(0);
    CHECK(!GetMailslotInfo(w1, NULL, NULL, NULL, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "GetMailslotInfo on a writer -> ERROR_INVALID_HANDLE (documented)");
    SetLastError(0);
    CHECK(!SetMailslotInfo(w1, 0) && GetLastError() == ERROR_INVALID_HANDLE,
          "SetMailslotInfo on a writer -> ERROR_INVALID_HANDLE (documented)");
    CHECK(FlushFileBuffers(w1), "FlushFileBuffers on a mailslot writer");
    CloseHandle(w1);
    CloseHandle(w2);
    CloseHandle(slot);
}

/* ---- Threads, waits, performance counter, temp files, cancellation ---- */

static DWORD WINAPI sleep_then_return(LPVOID param)
{
    DWORD ms = (DWORD)(uintptr_t)param;
    Sleep(ms);
    return ms + 1;
}

static void test_threads(void)
{
    HANDLE t;
    DWORD id = 0, code = 0;
    t = CreateThread(NULL, 0, sleep_then_return, (LPVOID)(uintptr_t)200, 0, &id);
    CHECK(t != NULL && id != 0, "CreateThread returns a handle and a thread id");
    CHECK(GetExitCodeThread(t, &code) && code == STILL_ACTIVE,
          "GetExitCodeThread while running -> STILL_ACTIVE");
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "WaitForSingleObject(thread, 0) -> WAIT_TIMEOUT");
    CHECK(WaitForSingleObject(t, INFINITE) == WAIT_OBJECT_0,
          "WaitForSingleObject(thread, INFINITE) -> WAIT_OBJECT_0");
    CHECK(GetExitCodeThread(t, &code) && code == 201, "GetExitCodeThread: the routine's value");
    CHECK(CloseHandle(t), "CloseHandle(thread)");
    SetLastError(0);
    CHECK(!GetExitCodeThread(t, &code) && GetLastError() == ERROR_INVALID_HANDLE,
          "GetExitCodeThread on a closed handle -> ERROR_INVALID_HANDLE");
    t = CreateThread(NULL, 256 * 1024, sleep_then_return, NULL, 0, NULL);
    CHECK(t != NULL && WaitForSingleObject(t, 5000) == WAIT_OBJECT_0
              && GetExitCodeThread(t, &code) && code == 1,
          "CreateThread with a stack size and NULL lpThreadId");
    SetLastError(0);
    CHECK(!GetExitCodeThread(t, NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
          "GetExitCodeThread(NULL) -> ERROR_INVALID_PARAMETER");
    CloseHandle(t);
    SetLastError(0);
    CHECK(CreateThread(NULL, 0, sleep_then_return, NULL, CREATE_SUSPENDED, NULL) == NULL
              && GetLastError() == ERROR_NOT_SUPPORTED,
          "CreateThread(CREATE_SUSPENDED) -> ERROR_NOT_SUPPORTED (documented)");
    SetLastError(0);
    CHECK(CreateThread(NULL, 0, NULL, NULL, 0, NULL) == NULL
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "CreateThread(NULL routine) -> ERROR_INVALID_PARAMETER");
    SetLastError(0);
    CHECK(!GetExitCodeProcess(GetStdHandle(STD_OUTPUT_HANDLE), &code)
              && GetLastError() == ERROR_INVALID_HANDLE,
          "GetExitCodeProcess on a standard handle -> ERROR_INVALID_HANDLE");
}

static void test_wait_multiple(void)
{
    HANDLE h[3], r, w, many[65];
    DWORD code = 0;
    char command[1024];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    h[0] = CreateThread(NULL, 0, sleep_then_return, (LPVOID)(uintptr_t)400, 0, NULL);
    h[1] = CreateThread(NULL, 0, sleep_then_return, (LPVOID)(uintptr_t)20, 0, NULL);
    CHECK(WaitForMultipleObjects(2, h, FALSE, INFINITE) == WAIT_OBJECT_0 + 1,
          "WaitForMultipleObjects any -> WAIT_OBJECT_0 + index of the first ended");
    CHECK(WaitForMultipleObjects(2, h, TRUE, 0) == WAIT_TIMEOUT,
          "WaitForMultipleObjects all, one running, timeout 0 -> WAIT_TIMEOUT");
    CHECK(WaitForMultipleObjects(2, h, TRUE, 50) == WAIT_TIMEOUT,
          "WaitForMultipleObjects all, timeout 50 ms -> WAIT_TIMEOUT");
    CHECK(WaitForMultipleObjects(2, h, TRUE, INFINITE) == WAIT_OBJECT_0,
          "WaitForMultipleObjects all -> WAIT_OBJECT_0");
    CHECK(GetExitCodeThread(h[0], &code) && code == 401, "both threads' exit codes after wait-all");
    CloseHandle(h[0]);
    CloseHandle(h[1]);

    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    snprintf(command, sizeof command, "\"%s\" --exit 3", self);
    if (CreateProcessA(NULL, command, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        h[0] = CreateThread(NULL, 0, sleep_then_return, (LPVOID)(uintptr_t)10, 0, NULL);
        h[1] = pi.hProcess;
        CHECK(WaitForMultipleObjects(2, h, TRUE, 10000) == WAIT_OBJECT_0
                  && GetExitCodeProcess(pi.hProcess, &code) && code == 3,
              "WaitForMultipleObjects all on a thread and a process");
        CHECK(WaitForMultipleObjects(2, h, FALSE, 0) == WAIT_OBJECT_0,
              "WaitForMultipleObjects any, all ended -> WAIT_OBJECT_0 (lowest index)");
        CloseHandle(h[0]);
        CloseHandle(pi.hProcess);
    } else {
        CHECK(0, "CreateProcessA for WaitForMultipleObjects");
    }

    h[0] = CreateThread(NULL, 0, sleep_then_return, NULL, 0, NULL);
    h[1] = (HANDLE)(uintptr_t)0x12340;
    SetLastError(0);
    CHECK(WaitForMultipleObjects(2, h, FALSE, 0) == WAIT_FAILED && GetLastError() == ERROR_INVALID_HANDLE,
          "WaitForMultipleObjects with a bad handle -> WAIT_FAILED + ERROR_INVALID_HANDLE");
    CreatePipe(&r, &w, NULL, 0);
    h[1] = r;
    CHECK(WaitForSingleObject(r, 0) == WAIT_OBJECT_0
              && WaitForMultipleObjects(2, h, TRUE, 5000) == WAIT_OBJECT_0,
          "an anonymous pipe end is signaled (a file with no overlapped I/O)");
    CloseHandle(r);
    CloseHandle(w);
    SetLastError(0);
    CHECK(WaitForMultipleObjects(0, h, FALSE, 0) == WAIT_FAILED
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "WaitForMultipleObjects(0 handles) -> ERROR_INVALID_PARAMETER");
    for (int i = 0; i < 65; i++)
        many[i] = h[0];
    SetLastError(0);
    CHECK(WaitForMultipleObjects(65, many, FALSE, 0) == WAIT_FAILED
              && GetLastError() == ERROR_INVALID_PARAMETER,
          "WaitForMultipleObjects(65 handles) -> ERROR_INVALID_PARAMETER");
    CHECK(WaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, many, TRUE, 5000) == WAIT_OBJECT_0,
          "WaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS handles)");
    CloseHandle(h[0]);
}

static DWORD WINAPI set_event_later(LPVOID param)
{
    Sleep(50);
    SetEvent((HANDLE)param);
    return 0;
}

#define PIPE_SIG "\\\\.\\pipe\\conformance\\signaled"

static void test_events(void)
{
    HANDLE e[3], t, s, c, many[3];
    char command[1024];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;

    e[0] = CreateEventA(NULL, TRUE, FALSE, NULL);
    CHECK(e[0] != NULL && WaitForSingleObject(e[0], 0) == WAIT_TIMEOUT,
          "S171 a manual-reset event created unsignaled");
    CHECK(SetEvent(e[0]) && WaitForSingleObject(e[0], 0) == WAIT_OBJECT_0
              && WaitForSingleObject(e[0], 0) == WAIT_OBJECT_0,
          "S171 SetEvent: a manual-reset event stays signaled through waits");
    CHECK(ResetEvent(e[0]) && WaitForSingleObject(e[0], 10) == WAIT_TIMEOUT,
          "S171 ResetEvent unsignals it");
    e[1] = CreateEventA(NULL, FALSE, TRUE, NULL);
    CHECK(WaitForSingleObject(e[1], 0) == WAIT_OBJECT_0 && WaitForSingleObject(e[1], 0) == WAIT_TIMEOUT,
          "S171 an auto-reset event is reset by the one wait it satisfies");
    e[2] = CreateEventA(NULL, TRUE, TRUE, NULL);
    SetEvent(e[1]);
    CHECK(WaitForMultipleObjects(3, e, FALSE, 0) == WAIT_OBJECT_0 + 1,
          "S171 wait-any -> WAIT_OBJECT_0 + the lowest index signaled");
    SetEvent(e[1]);
    CHECK(WaitForMultipleObjects(3, e, TRUE, 0) == WAIT_TIMEOUT
              && WaitForSingleObject(e[1], 0) == WAIT_OBJECT_0,
          "S171 an unsatisfied wait-all consumes no auto-reset event");
    SetEvent(e[0]);
    SetEvent(e[1]);
    CHECK(WaitForMultipleObjects(3, e, TRUE, 0) == WAIT_OBJECT_0
              && WaitForSingleObject(e[1], 0) == WAIT_TIMEOUT
              && WaitForSingleObject(e[0], 0) == WAIT_OBJECT_0,
          "S171 a satisfied wait-all resets its auto-reset events only");
    t = CreateThread(NULL, 0, set_event_later, e[1], 0, NULL);
    CHECK(WaitForSingleObject(e[1], 5000) == WAIT_OBJECT_0, "SetEvent from another thread wakes a wait");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);

    /* Events mixed with a thread and a process. */
    ResetEvent(e[0]);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    snprintf(command, sizeof command, "\"%s\" --exit 5", self);
    if (CreateProcessA(NULL, command, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        many[0] = e[0];
        many[1] = CreateThread(NULL, 0, sleep_then_return, (LPVOID)(uintptr_t)5000, 0, NULL);
        many[2] = pi.hProcess;
        CHECK(WaitForMultipleObjects(3, many, FALSE, 10000) == WAIT_OBJECT_0 + 2,
              "wait-any over an event, a thread and a process -> the process's index");
        t = CreateThread(NULL, 0, set_event_later, e[0], 0, NULL);
        WaitForSingleObject(t, INFINITE);
        CloseHandle(t);
        CHECK(WaitForMultipleObjects(3, many, FALSE, 10000) == WAIT_OBJECT_0,
              "wait-any -> the event set meanwhile comes first (lowest index)");
        CloseHandle(many[1]);
        many[1] = pi.hThread;
        CHECK(WaitForMultipleObjects(3, many, TRUE, 0) == WAIT_OBJECT_0,
              "wait-all over an event, the child's hThread and its process");
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
    } else {
        CHECK(0, "CreateProcessA for the mixed waits");
    }

    SetLastError(0);
    CHECK(!SetEvent(GetStdHandle(STD_OUTPUT_HANDLE)) && GetLastError() == ERROR_INVALID_HANDLE,
          "SetEvent on a handle that is no event -> ERROR_INVALID_HANDLE");
    SetLastError(0);
    CHECK(CreateEventA(NULL, TRUE, FALSE, "named") == NULL && GetLastError() == ERROR_NOT_SUPPORTED,
          "CreateEventA with a name -> ERROR_NOT_SUPPORTED (documented)");
    for (int i = 0; i < 3; i++)
        CloseHandle(e[i]);
    SetLastError(0);
    CHECK(WaitForSingleObject(e[0], 0) == WAIT_FAILED && GetLastError() == ERROR_INVALID_HANDLE,
          "WaitForSingleObject on a closed event -> WAIT_FAILED + ERROR_INVALID_HANDLE");

    /* S18, S163, S52: pipe handles. */
    s = CreateNamedPipeA(PIPE_SIG, PIPE_ACCESS_DUPLEX, 0, 1, 512, 512, 0, NULL);
    CHECK(WaitForSingleObject(s, 0) == WAIT_OBJECT_0, "S18 a new server handle is signaled");
    c = CreateFileA(PIPE_SIG, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(WaitForSingleObject(c, 0) == WAIT_OBJECT_0, "S163 a new client handle is signaled");
    CHECK(DisconnectNamedPipe(s) && WaitForSingleObject(c, 0) == WAIT_TIMEOUT,
          "S52 a client the server disconnected: WaitForSingleObject(client, 0) -> WAIT_TIMEOUT");
    CloseHandle(c);
    CloseHandle(s);
}

static void test_performance_counter(void)
{
    LARGE_INTEGER f, a, b;
    f.QuadPart = 0;
    CHECK(QueryPerformanceFrequency(&f) && f.QuadPart == 1000000000LL,
          "QueryPerformanceFrequency -> 1000000000");
    CHECK(QueryPerformanceCounter(&a) && QueryPerformanceCounter(&b) && b.QuadPart >= a.QuadPart,
          "QueryPerformanceCounter is monotonic");
    Sleep(20);
    CHECK(QueryPerformanceCounter(&b) && b.QuadPart - a.QuadPart >= 15000000LL
              && b.QuadPart - a.QuadPart < 10000000000LL,
          "QueryPerformanceCounter advances with Sleep(20)");
    SetLastError(0);
    CHECK(!QueryPerformanceCounter(NULL) && GetLastError() == ERROR_INVALID_PARAMETER,
          "QueryPerformanceCounter(NULL) -> ERROR_INVALID_PARAMETER");
}

static void test_temp_files(void)
{
    char name[MAX_PATH], other[MAX_PATH], dir[300];
    UINT u, v;
    DWORD n;
    HANDLE f;
    size_t len;
    u = GetTempFileNameA("/tmp", "pswxyz", 0, name);
    len = strlen(name);
    CHECK(u != 0 && strncmp(name, "/tmp/psw", 8) == 0 && len > 12
              && strcmp(name + len - 4, ".TMP") == 0,
          "GetTempFileNameA(uUnique 0): /tmp/psw<hex>.TMP");
    f = CreateFileA(name, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    n = 99;
    CHECK(f != INVALID_HANDLE_VALUE && ReadFile(f, other, sizeof other, &n, NULL) && n == 0,
          "GetTempFileNameA created an empty file");
    CloseHandle(f);
    v = GetTempFileNameA("/tmp/", "psw", 0, other);
    CHECK(v != 0 && strcmp(name, other) != 0 && strncmp(other, "/tmp/psw", 8) == 0,
          "GetTempFileNameA twice: two different files");
    CHECK(GetTempFileNameA("/tmp", "ab", 0x1ABCD, other) == 0xABCD
              && strcmp(other, "/tmp/abABCD.TMP") == 0,
          "GetTempFileNameA(uUnique non-zero): low 16 bits, name only");
    SetLastError(0);
    CHECK(!DeleteFileA(other) && GetLastError() == ERROR_FILE_NOT_FOUND,
          "GetTempFileNameA(uUnique non-zero) creates nothing; DeleteFileA -> ERROR_FILE_NOT_FOUND");
    CHECK(DeleteFileA(name), "DeleteFileA");
    SetLastError(0);
    CHECK(!DeleteFileA(name) && GetLastError() == ERROR_FILE_NOT_FOUND,
          "DeleteFileA twice -> ERROR_FILE_NOT_FOUND");
    GetTempFileNameA("/tmp", "psw", v, other);
    CHECK(DeleteFileA(other), "DeleteFileA of the second temp file");
    SetLastError(0);
    CHECK(!DeleteFileA("/tmp") && GetLastError() == ERROR_ACCESS_DENIED,
          "DeleteFileA(directory) -> ERROR_ACCESS_DENIED");
    SetLastError(0);
    CHECK(!DeleteFileA("/nonexistent-pipeslot-dir/x") && GetLastError() == ERROR_PATH_NOT_FOUND,
          "DeleteFileA in a missing directory -> ERROR_PATH_NOT_FOUND");
    SetLastError(0);
    CHECK(GetTempFileNameA("/nonexistent-pipeslot-dir", "a", 0, name) == 0
              && GetLastError() == ERROR_DIRECTORY,
          "GetTempFileNameA in a missing directory -> ERROR_DIRECTORY");
    memset(dir, 'd', sizeof dir - 1);
    dir[0] = '/';
    dir[sizeof dir - 1] = 0;
    SetLastError(0);
    CHECK(GetTempFileNameA(dir, "a", 1, name) == 0 && GetLastError() == ERROR_BUFFER_OVERFLOW,
          "GetTempFileNameA with a path too long -> ERROR_BUFFER_OVERFLOW");
    SetLastError(0);
    CHECK(GetTempFileNameA(NULL, "a", 0, name) == 0 && GetLastError() == ERROR_INVALID_PARAMETER,
          "GetTempFileNameA(NULL path) -> ERROR_INVALID_PARAMETER");
}

#define PIPE_X "\\\\.\\pipe\\conformance\\cancel"

static DWORD WINAPI connect_and_report(LPVOID param)
{
    if (ConnectNamedPipe((HANDLE)param, NULL))
        return 0;
    return GetLastError();
}

static DWORD WINAPI read_and_report(LPVOID param)
{
    char buf[16];
    DWORD n;
    if (ReadFile((HANDLE)param, buf, sizeof buf, &n, NULL))
        return 0;
    return GetLastError();
}

static void test_cancel(void)
{
    HANDLE s, t, r, w, c;
    DWORD code = 0;
    s = CreateNamedPipeA(PIPE_X, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    SetLastError(0);
    CHECK(!CancelIoEx(s, NULL) && GetLastError() == ERROR_NOT_FOUND,
          "CancelIoEx with nothing under way -> ERROR_NOT_FOUND");
    t = CreateThread(NULL, 0, sleep_then_return, (LPVOID)(uintptr_t)100, 0, NULL);
    SetLastError(0);
    CHECK(!CancelSynchronousIo(t) && GetLastError() == ERROR_NOT_FOUND,
          "CancelSynchronousIo of a thread not in a pipe call -> ERROR_NOT_FOUND");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);

    t = CreateThread(NULL, 0, connect_and_report, s, 0, NULL);
    Sleep(150);
    CHECK(CancelSynchronousIo(t), "CancelSynchronousIo of a thread in ConnectNamedPipe");
    CHECK(WaitForSingleObject(t, 5000) == WAIT_OBJECT_0 && GetExitCodeThread(t, &code)
              && code == ERROR_OPERATION_ABORTED,
          "S41 cancelled ConnectNamedPipe -> ERROR_OPERATION_ABORTED (CancelSynchronousIo)");
    CloseHandle(t);

    t = CreateThread(NULL, 0, connect_and_report, s, 0, NULL);
    Sleep(150);
    CHECK(CancelIoEx(s, NULL), "CancelIoEx of a ConnectNamedPipe in another thread");
    CHECK(WaitForSingleObject(t, 5000) == WAIT_OBJECT_0 && GetExitCodeThread(t, &code)
              && code == ERROR_OPERATION_ABORTED,
          "S41 cancelled ConnectNamedPipe -> ERROR_OPERATION_ABORTED (CancelIoEx)");
    CloseHandle(t);

    t = CreateThread(NULL, 0, connect_and_report, s, 0, NULL);
    Sleep(50);
    c = open_client(PIPE_X, GENERIC_READ | GENERIC_WRITE);
    CHECK(c != INVALID_HANDLE_VALUE && WaitForSingleObject(t, 5000) == WAIT_OBJECT_0
              && GetExitCodeThread(t, &code) && code == 0,
          "the instance still connects after a cancelled ConnectNamedPipe");
    CloseHandle(t);
    t = CreateThread(NULL, 0, read_and_report, c, 0, NULL);
    Sleep(150);
    CHECK(CancelIoEx(c, NULL) && WaitForSingleObject(t, 5000) == WAIT_OBJECT_0
              && GetExitCodeThread(t, &code) && code == ERROR_OPERATION_ABORTED,
          "CancelIoEx of a client's blocking ReadFile -> ERROR_OPERATION_ABORTED");
    CloseHandle(t);
    CloseHandle(c);
    CloseHandle(s);

    CreatePipe(&r, &w, NULL, 0);
    SetLastError(0);
    CHECK(!CancelIoEx(r, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "CancelIoEx on an anonymous pipe -> ERROR_INVALID_HANDLE (documented)");
    SetLastError(0);
    CHECK(!CancelSynchronousIo(r) && GetLastError() == ERROR_INVALID_HANDLE,
          "CancelSynchronousIo on a pipe handle -> ERROR_INVALID_HANDLE");
    CloseHandle(r);
    CloseHandle(w);
}

/* T12 (issue 11 item 5), S41, S165, S168: a blocked call is woken at once by
 * CancelIoEx, CancelSynchronousIo and CloseHandle of its handle. Each wait
 * below is a hang guard (5 s), not a timing assertion. */
#define PIPE_W "\\\\.\\pipe\\conformance\\wake"
#define BIG_WRITE (4u << 20)

static char big_write[BIG_WRITE];

/* WriteFile of 4 MiB; the exit code is 0 or the error. */
static DWORD WINAPI write_big_and_report(LPVOID param)
{
    DWORD n = 0;
    if (WriteFile((HANDLE)param, big_write, BIG_WRITE, &n, NULL))
        return 0;
    return GetLastError();
}

/* A byte pipe with small quotas and a connected client that never reads;
   *client receives the client handle. */
static HANDLE small_pipe_with_idle_client(HANDLE *client)
{
    HANDLE s = CreateNamedPipeA(PIPE_W, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 4096, 4096, 0,
                                NULL);
    *client = open_client(PIPE_W, GENERIC_READ | GENERIC_WRITE);
    return s;
}

/* Waits (hang guard: 5 s) for thread t and checks that it ended with code
   `want`; closes t. Returns whether it ended: the checks that would block
   behind a thread still stuck are skipped (failed) instead of hanging. */
static int check_woken(HANDLE t, DWORD want, const char *what)
{
    DWORD code = 0;
    int ended = WaitForSingleObject(t, 5000) == WAIT_OBJECT_0;
    CHECK(ended && GetExitCodeThread(t, &code) && code == want, what);
    CloseHandle(t);
    return ended;
}

static void test_cancel_wakes_blocked_calls(void)
{
    HANDLE s, c, t;
    DWORD n;
    char buf[8];
    int ended;

    /* T12: a 4 MiB write to a client that never reads, cancelled by
       CancelIoEx from another thread. */
    s = small_pipe_with_idle_client(&c);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE,
          "T12 a byte pipe with 4 KiB quotas and a client that never reads");
    t = CreateThread(NULL, 0, write_big_and_report, s, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT,
          "T12 WriteFile of 4 MiB to a client that never reads blocks");
    CHECK(CancelIoEx(s, NULL), "T12 CancelIoEx of the blocked WriteFile -> TRUE");
    check_woken(t, ERROR_OPERATION_ABORTED,
                "T12/S41 CancelIoEx wakes the blocked 4 MiB WriteFile: ERROR_OPERATION_ABORTED");

    /* The same write, woken by closing its handle. */
    t = CreateThread(NULL, 0, write_big_and_report, s, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "T12 a second 4 MiB WriteFile blocks");
    CHECK(CloseHandle(s), "T12 CloseHandle of the instance a WriteFile is blocked on");
    ended = check_woken(t, ERROR_OPERATION_ABORTED,
                        "T12 CloseHandle wakes the blocked WriteFile: ERROR_OPERATION_ABORTED");
    SetLastError(0);
    CHECK(!WriteFile(s, "x", 1, &n, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "T12 the closed instance handle is invalid afterwards");
    /* The client sees the server gone once it has read what arrived. */
    while (ended && ReadFile(c, big_write, sizeof big_write, &n, NULL))
        ;
    CHECK(ended && GetLastError() == ERROR_BROKEN_PIPE,
          "S80 the client reads what arrived, then ERROR_BROKEN_PIPE");
    CloseHandle(c);

    /* S41: CancelSynchronousIo on a ReadFile blocked on an idle pipe. */
    s = small_pipe_with_idle_client(&c);
    t = CreateThread(NULL, 0, read_and_report, c, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "S41 ReadFile on an idle pipe blocks");
    CHECK(CancelSynchronousIo(t), "S41 CancelSynchronousIo of the thread blocked in ReadFile");
    ended = check_woken(t, ERROR_OPERATION_ABORTED,
                        "S41/S165 CancelSynchronousIo wakes the blocked ReadFile: ERROR_OPERATION_ABORTED");
    CHECK(ended && WriteFile(s, "ok", 2, &n, NULL) && ReadFile(c, buf, sizeof buf, &n, NULL) && n == 2
              && memcmp(buf, "ok", 2) == 0,
          "S41 the pipe still works after a cancelled ReadFile");

    /* CloseHandle of the client end a ReadFile is blocked on. */
    t = CreateThread(NULL, 0, read_and_report, c, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "T12 a second ReadFile on the idle pipe blocks");
    CHECK(CloseHandle(c), "T12 CloseHandle of the client end a ReadFile is blocked on");
    ended = check_woken(t, ERROR_OPERATION_ABORTED,
                        "T12 CloseHandle wakes the blocked ReadFile: ERROR_OPERATION_ABORTED");
    CHECK(ended && !ReadFile(s, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_BROKEN_PIPE,
          "S83 the server sees the closed client: ERROR_BROKEN_PIPE");
    CloseHandle(s);

    /* S168: CloseHandle of an instance a ConnectNamedPipe is blocked on. */
    s = CreateNamedPipeA(PIPE_W, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    t = CreateThread(NULL, 0, connect_and_report, s, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "S168 ConnectNamedPipe with no client blocks");
    CHECK(CloseHandle(s), "S168 CloseHandle of the instance a ConnectNamedPipe is blocked on");
    check_woken(t, ERROR_BROKEN_PIPE,
                "S168 CloseHandle wakes the blocked ConnectNamedPipe: ERROR_BROKEN_PIPE");
    SetLastError(0);
    CHECK(open_client(PIPE_W, GENERIC_READ) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_FILE_NOT_FOUND,
          "S168 the closed instance is gone: a client gets ERROR_FILE_NOT_FOUND");
}

/* S41, T12: a ReadFile blocked on a mailslot (MAILSLOT_WAIT_FOREVER, or a
 * long read timeout) is woken like one on a named pipe: by CancelIoEx of
 * the handle, CancelSynchronousIo of its thread and CloseHandle of the
 * handle, and fails with ERROR_OPERATION_ABORTED. Each scenario has its own
 * mailslot, so that a reader left blocked (a failed check) never takes a
 * later scenario's message; every wait is a hang guard (5 s), and a read in
 * this thread only happens once the blocked one has ended. */
#define SLOT_WAKE(x) "\\\\.\\mailslot\\conformance\\wake\\" x

static HANDLE open_mailslot_writer(const char *name)
{
    return CreateFileA(name, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                       FILE_ATTRIBUTE_NORMAL, NULL);
}

static void test_cancel_wakes_blocked_mailslot_read(void)
{
    HANDLE slot, writer, t;
    DWORD n = 0;
    char buf[16];
    int ended;

    /* S41: CancelIoEx, with nothing under way and of a blocked ReadFile. */
    slot = CreateMailslotA(SLOT_WAKE("ex"), 0, MAILSLOT_WAIT_FOREVER, NULL);
    writer = open_mailslot_writer(SLOT_WAKE("ex"));
    CHECK(slot != INVALID_HANDLE_VALUE && writer != INVALID_HANDLE_VALUE,
          "S41 a mailslot (MAILSLOT_WAIT_FOREVER) and a writer");
    SetLastError(0);
    CHECK(!CancelIoEx(slot, NULL) && GetLastError() == ERROR_NOT_FOUND,
          "S41 CancelIoEx on an idle mailslot -> ERROR_NOT_FOUND");
    SetLastError(0);
    CHECK(!CancelIoEx(writer, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "CancelIoEx on a mailslot writer -> ERROR_INVALID_HANDLE (documented)");
    t = CreateThread(NULL, 0, read_and_report, slot, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT,
          "S147 ReadFile on an empty mailslot with MAILSLOT_WAIT_FOREVER blocks");
    CHECK(CancelIoEx(slot, NULL), "S41 CancelIoEx of the ReadFile blocked on the mailslot -> TRUE");
    ended = check_woken(t, ERROR_OPERATION_ABORTED,
                        "S41/T12 CancelIoEx wakes the ReadFile blocked on a mailslot: ERROR_OPERATION_ABORTED");
    SetLastError(0);
    CHECK(ended && !CancelIoEx(slot, NULL) && GetLastError() == ERROR_NOT_FOUND,
          "S41 CancelIoEx on the mailslot once the read returned -> ERROR_NOT_FOUND");
    CHECK(ended && WriteFile(writer, "after", 5, &n, NULL) && n == 5
              && ReadFile(slot, buf, sizeof buf, &n, NULL) && n == 5 && memcmp(buf, "after", 5) == 0,
          "S41 the mailslot still receives a message after a cancelled ReadFile");
    CloseHandle(writer);
    CloseHandle(slot);

    /* S41: CancelSynchronousIo of the thread blocked in ReadFile. */
    slot = CreateMailslotA(SLOT_WAKE("sync"), 0, MAILSLOT_WAIT_FOREVER, NULL);
    writer = open_mailslot_writer(SLOT_WAKE("sync"));
    t = CreateThread(NULL, 0, read_and_report, slot, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "S147 a second ReadFile on an empty mailslot blocks");
    CHECK(CancelSynchronousIo(t), "S41 CancelSynchronousIo of the thread blocked in ReadFile on a mailslot");
    ended = check_woken(t, ERROR_OPERATION_ABORTED,
                        "S41/T12 CancelSynchronousIo wakes the mailslot ReadFile: ERROR_OPERATION_ABORTED");
    /* A new blocked read gets a message written after the cancel. */
    if (ended) {
        t = CreateThread(NULL, 0, read_mailslot_blocking, slot, 0, NULL);
        Sleep(50);
        CHECK(WriteFile(writer, "again", 5, &n, NULL) && n == 5,
              "S148 a message for the next blocked ReadFile");
        check_woken(t, 5, "S41/S147 the next blocked ReadFile after a cancel gets the message");
    } else {
        CHECK(0, "S41/S147 the next blocked ReadFile after a cancel gets the message (skipped)");
    }
    CloseHandle(writer);
    CloseHandle(slot);

    /* S41: a read waiting for a long read timeout (60 s) is cancelled too. */
    slot = CreateMailslotA(SLOT_WAKE("timeout"), 0, 60000, NULL);
    t = CreateThread(NULL, 0, read_and_report, slot, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "S146 ReadFile with a 60 s read timeout waits");
    CHECK(CancelIoEx(slot, NULL), "S41 CancelIoEx of the ReadFile waiting for its 60 s timeout");
    check_woken(t, ERROR_OPERATION_ABORTED,
                "S41 CancelIoEx wakes a ReadFile with a 60 s timeout: ERROR_OPERATION_ABORTED, not ERROR_SEM_TIMEOUT");
    CloseHandle(slot);

    /* T12: CloseHandle of the mailslot a ReadFile is blocked on, as for a
       pipe ReadFile. */
    slot = CreateMailslotA(SLOT_WAKE("close"), 0, MAILSLOT_WAIT_FOREVER, NULL);
    t = CreateThread(NULL, 0, read_and_report, slot, 0, NULL);
    Sleep(150);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT, "T12 a ReadFile blocked on a mailslot to be closed");
    CHECK(CloseHandle(slot), "T12 CloseHandle of the mailslot a ReadFile is blocked on");
    ended = check_woken(t, ERROR_OPERATION_ABORTED,
                        "T12 CloseHandle wakes the mailslot ReadFile: ERROR_OPERATION_ABORTED");
    SetLastError(0);
    CHECK(!ReadFile(slot, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_INVALID_HANDLE,
          "T12 the closed mailslot handle is invalid afterwards");
    slot = ended ? CreateMailslotA(SLOT_WAKE("close"), 0, 0, NULL) : INVALID_HANDLE_VALUE;
    CHECK(slot != INVALID_HANDLE_VALUE,
          "S143 the closed mailslot's name is free once the woken read returned");
    if (slot != INVALID_HANDLE_VALUE)
        CloseHandle(slot);
}

/* ---- Overlapped I/O and completion ports (S45-S46, S54-S55, S68, S72,
   S77, S83-S84, S160-S171) ---------------------------------------------- */

#define PIPE_OV(x) "\\\\.\\pipe\\conformance\\overlapped\\" x
#define STATUS_BUFFER_OVERFLOW_ 0x80000005u
#define STATUS_PIPE_BROKEN_ 0xC000014Bu

static void ov_init(OVERLAPPED *ov, BOOL event)
{
    memset(ov, 0, sizeof *ov);
    if (event)
        ov->hEvent = CreateEventA(NULL, TRUE, TRUE, NULL); /* set: the call must reset it */
}

static HANDLE ov_server(const char *name, DWORD type, DWORD quota)
{
    return CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                            type | (type == PIPE_TYPE_MESSAGE ? PIPE_READMODE_MESSAGE : 0), 4, quota,
                            quota, 0, NULL);
}

static HANDLE ov_client(const char *name, DWORD type)
{
    HANDLE c = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED, NULL);
    DWORD mode = PIPE_READMODE_MESSAGE;
    if (c != INVALID_HANDLE_VALUE && type == PIPE_TYPE_MESSAGE)
        SetNamedPipeHandleState(c, &mode, NULL, NULL);
    return c;
}

/* Starts an overlapped call; returns 1 if it went pending. */
static int pending(BOOL ok)
{
    return !ok && GetLastError() == ERROR_IO_PENDING;
}

static void test_overlapped_connect_and_io(void)
{
    OVERLAPPED ov, ov2, ovw;
    HANDLE s, c;
    DWORD n = 99;
    char buf[64];
    s = ov_server(PIPE_OV("io"), PIPE_TYPE_MESSAGE, 512);
    ov_init(&ov, TRUE);
    SetLastError(0);
    CHECK(pending(ConnectNamedPipe(s, &ov)) && WaitForSingleObject(ov.hEvent, 0) == WAIT_TIMEOUT
              && !HasOverlappedIoCompleted(&ov),
          "S45 overlapped ConnectNamedPipe with no client: ERROR_IO_PENDING, event reset");
    SetLastError(0);
    CHECK(!GetOverlappedResult(s, &ov, &n, FALSE) && GetLastError() == ERROR_IO_INCOMPLETE,
          "S164 GetOverlappedResult(bWait FALSE) while pending -> ERROR_IO_INCOMPLETE");
    c = ov_client(PIPE_OV("io"), PIPE_TYPE_MESSAGE);
    CHECK(c != INVALID_HANDLE_VALUE && WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0
              && HasOverlappedIoCompleted(&ov) && GetOverlappedResult(s, &ov, &n, FALSE) && n == 0,
          "S45 a client connects: the connect completes with 0 bytes and sets the event");
    CHECK(WaitForSingleObject(s, 0) == WAIT_TIMEOUT,
          "S163 an operation that reports through an event leaves the handle unsignaled");
    ov_init(&ov2, TRUE);
    SetLastError(0);
    CHECK(!ConnectNamedPipe(s, &ov2) && GetLastError() == ERROR_PIPE_CONNECTED
              && ov2.Internal == STATUS_PENDING && WaitForSingleObject(ov2.hEvent, 0) == WAIT_TIMEOUT,
          "S45 S162 ConnectNamedPipe with a client there: ERROR_PIPE_CONNECTED at once, nothing signaled");

    /* S160: immediate success; pending read completed by a write. */
    ov_init(&ovw, TRUE);
    CHECK(WriteFile(c, "hello", 5, &n, &ovw) && n == 5 && WaitForSingleObject(ovw.hEvent, 0) == WAIT_OBJECT_0
              && ovw.Internal == 0 && ovw.InternalHigh == 5,
          "S160 an overlapped write that completes at once: TRUE, Internal/InternalHigh set, event set");
    CHECK(ReadFile(s, buf, sizeof buf, &n, &ov) && n == 5 && memcmp(buf, "hello", 5) == 0
              && WaitForSingleObject(ov.hEvent, 0) == WAIT_OBJECT_0,
          "S160 an overlapped read of queued data completes at once");
    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)) && WaitForSingleObject(ov.hEvent, 0) == WAIT_TIMEOUT,
          "S72 an overlapped read of an empty pipe goes pending");
    CHECK(WriteFile(c, "world!", 6, &n, &ovw) && WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0
              && GetOverlappedResult(s, &ov, &n, TRUE) && n == 6 && memcmp(buf, "world!", 6) == 0,
          "a write completes the pending read: event set, GetOverlappedResult gives the count");

    /* S68, S161: ERROR_MORE_DATA is a completion. */
    WriteFile(c, "0123456789", 10, &n, &ovw);
    n = 77;
    SetLastError(0);
    CHECK(!ReadFile(s, buf, 4, &n, &ov) && GetLastError() == ERROR_MORE_DATA && n == 0
              && ov.Internal == STATUS_BUFFER_OVERFLOW_ && ov.InternalHigh == 4
              && WaitForSingleObject(ov.hEvent, 0) == WAIT_OBJECT_0,
          "S68 S161 overlapped read of a longer message: ERROR_MORE_DATA, count 0, InternalHigh 4, event set");
    SetLastError(0);
    CHECK(!GetOverlappedResult(s, &ov, &n, FALSE) && GetLastError() == ERROR_MORE_DATA && n == 4,
          "S68 GetOverlappedResult -> FALSE + ERROR_MORE_DATA with the count");
    CHECK(ReadFile(s, buf, sizeof buf, &n, &ov) && n == 6, "S62 the rest of the message follows");

    /* S72: a write beyond the quota goes pending until read. */
    {
        static char big[2000];
        SetLastError(0);
        CHECK(pending(WriteFile(s, big, sizeof big, NULL, &ovw)),
              "S72 an overlapped write beyond the quota goes pending");
        CHECK(ReadFile(c, buf, 0, &n, NULL) || GetLastError() == ERROR_MORE_DATA, "zero-byte read");
        for (DWORD got = 0; got < sizeof big;) {
            static char sink[4096];
            BOOL ok = ReadFile(c, sink, sizeof sink, &n, &ov);
            if (!ok && GetLastError() == ERROR_IO_PENDING)
                ok = GetOverlappedResult(c, &ov, &n, TRUE);
            if (!ok && GetLastError() != ERROR_MORE_DATA)
                break;
            got += n;
        }
        CHECK(GetOverlappedResult(s, &ovw, &n, TRUE) && n == sizeof big,
              "S72 it completes once the reader took the bytes");
    }

    /* S164, S163: hEvent NULL: the handle itself is signaled. */
    ov_init(&ov2, FALSE);
    SetLastError(0);
    CHECK(pending(ReadFile(c, buf, sizeof buf, NULL, &ov2)) && WaitForSingleObject(c, 0) == WAIT_TIMEOUT,
          "S163 a pending read with hEvent NULL leaves the handle unsignaled");
    WriteFile(s, "abc", 3, &n, &ovw);
    CHECK(WaitForSingleObject(c, 5000) == WAIT_OBJECT_0 && GetOverlappedResult(c, &ov2, &n, TRUE) && n == 3,
          "S163 its completion signals the handle; GetOverlappedResult(bWait TRUE)");

    /* S165, S166: cancel. */
    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "a read to cancel goes pending");
    CHECK(CancelIoEx(s, &ov), "S166 CancelIoEx(h, ov) of a pending read");
    SetLastError(0);
    CHECK(!GetOverlappedResult(s, &ov, &n, TRUE) && GetLastError() == ERROR_OPERATION_ABORTED && n == 0,
          "S165 the cancelled read completes with ERROR_OPERATION_ABORTED and 0 bytes");
    SetLastError(0);
    CHECK(!CancelIoEx(s, &ov) && GetLastError() == ERROR_NOT_FOUND,
          "S166 CancelIoEx of a completed request -> ERROR_NOT_FOUND");
    SetLastError(0);
    CHECK(!CancelIoEx(s, NULL) && GetLastError() == ERROR_NOT_FOUND,
          "S166 CancelIoEx(h, NULL) with nothing pending -> ERROR_NOT_FOUND");
    CHECK(CancelIo(s), "S166 CancelIo with nothing pending -> TRUE");
    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)) && CancelIo(s)
              && WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0
              && !GetOverlappedResult(s, &ov, &n, FALSE) && GetLastError() == ERROR_OPERATION_ABORTED,
          "S166 CancelIo cancels the calling thread's pending read; the event is set");
    CHECK(WriteFile(c, "after", 5, &n, &ovw) && ReadFile(s, buf, sizeof buf, &n, &ov) && n == 5
              && memcmp(buf, "after", 5) == 0,
          "a cancelled read took nothing: the next message is whole");

    /* S54, S167: pending reads at a disconnect; S55 afterwards. */
    SetLastError(0);
    CHECK(pending(ReadFile(c, buf, sizeof buf, NULL, &ov2)), "a client read pending before a disconnect");
    CHECK(DisconnectNamedPipe(s) && GetOverlappedResult(c, &ov2, &n, TRUE) == FALSE
              && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S54 S167 a pending client read fails with ERROR_PIPE_NOT_CONNECTED at a disconnect");
    ov_init(&ov2, TRUE);
    ov2.InternalHigh = 1234;
    SetLastError(0);
    CHECK(!ReadFile(s, buf, sizeof buf, &n, &ov2) && GetLastError() == ERROR_PIPE_NOT_CONNECTED
              && ov2.Internal == STATUS_PENDING && ov2.InternalHigh == 1234
              && WaitForSingleObject(ov2.hEvent, 0) == WAIT_TIMEOUT,
          "S55 S162 overlapped ReadFile on a disconnected server fails at once, Internal stays STATUS_PENDING");
    SetLastError(0);
    CHECK(!WriteFile(s, "x", 1, &n, &ov2) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S55 overlapped WriteFile on a disconnected server -> ERROR_PIPE_NOT_CONNECTED");
    CloseHandle(c);

    /* S83: pending read when the peer closes. */
    SetLastError(0);
    CHECK(pending(ConnectNamedPipe(s, &ov)), "S44 the instance listens again (overlapped connect)");
    c = ov_client(PIPE_OV("io"), PIPE_TYPE_MESSAGE);
    CHECK(GetOverlappedResult(s, &ov, &n, TRUE), "the new client connects");
    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "a server read pending before the client closes");
    CloseHandle(c);
    SetLastError(0);
    CHECK(!GetOverlappedResult(s, &ov, &n, TRUE) && GetLastError() == ERROR_BROKEN_PIPE && n == 0,
          "S83 a pending read completes with ERROR_BROKEN_PIPE and 0 bytes when the peer closes");
    SetLastError(0);
    CHECK(!ReadFile(s, buf, sizeof buf, &n, &ov) && GetLastError() == ERROR_BROKEN_PIPE,
          "S83 a read issued after the close fails at once with ERROR_BROKEN_PIPE");
    SetLastError(0);
    CHECK(!ConnectNamedPipe(s, &ov) && GetLastError() == ERROR_NO_DATA,
          "S84 overlapped ConnectNamedPipe after the client closed -> ERROR_NO_DATA");
    DisconnectNamedPipe(s);

    /* S46, S168: cancel and close under a pending connect. */
    SetLastError(0);
    CHECK(pending(ConnectNamedPipe(s, &ov)) && CancelIoEx(s, NULL)
              && !GetOverlappedResult(s, &ov, &n, TRUE) && GetLastError() == ERROR_OPERATION_ABORTED,
          "S46 S165 a cancelled overlapped connect completes with ERROR_OPERATION_ABORTED");
    SetLastError(0);
    CHECK(pending(ConnectNamedPipe(s, &ov)), "a connect pending before CloseHandle");
    CloseHandle(s);
    CHECK(WaitForSingleObject(ov.hEvent, 5000) == WAIT_OBJECT_0 && ov.Internal == STATUS_PIPE_BROKEN_,
          "S46 S168 closing the handle completes the pending connect (ERROR_BROKEN_PIPE) and sets its event");
    CloseHandle(ov.hEvent);
    CloseHandle(ov2.hEvent);
    CloseHandle(ovw.hEvent);
}

/* A thread already waiting for a pending read, with no timeout, runs the
   read itself (crate::overlapped, "The waiting thread runs it"); what
   ends the wait otherwise must still do so, with the codes of S54, S83,
   S165, S68. Each action below happens 100 ms after the wait began. */
enum later_action { LATER_WRITE, LATER_SET_EVENT, LATER_CANCEL, LATER_CLOSE, LATER_DISCONNECT };

typedef struct {
    HANDLE h;
    enum later_action action;
    const char *data;
} LATER;

static DWORD WINAPI act_later(LPVOID param)
{
    LATER *later = param;
    DWORD n;
    OVERLAPPED ov;
    Sleep(100);
    switch (later->action) {
    case LATER_WRITE:
        ov_init(&ov, TRUE);
        if (!WriteFile(later->h, later->data, (DWORD)strlen(later->data), &n, &ov)
            && GetLastError() == ERROR_IO_PENDING)
            GetOverlappedResult(later->h, &ov, &n, TRUE);
        CloseHandle(ov.hEvent);
        break;
    case LATER_SET_EVENT:
        SetEvent(later->h);
        break;
    case LATER_CANCEL:
        CancelIoEx(later->h, NULL);
        break;
    case LATER_CLOSE:
        CloseHandle(later->h);
        break;
    case LATER_DISCONNECT:
        DisconnectNamedPipe(later->h);
        break;
    }
    return 0;
}

static HANDLE later(LATER *l, HANDLE h, enum later_action action, const char *data)
{
    l->h = h;
    l->action = action;
    l->data = data;
    return CreateThread(NULL, 0, act_later, l, 0, NULL);
}

static void test_overlapped_waiting_thread_runs_read(void)
{
    OVERLAPPED ov;
    HANDLE s, c, t;
    LATER l;
    DWORD n = 0;
    char buf[64];
    s = ov_server(PIPE_OV("waiter"), PIPE_TYPE_MESSAGE, 512);
    c = ov_client(PIPE_OV("waiter"), PIPE_TYPE_MESSAGE);
    ov_init(&ov, TRUE);
    CHECK(c != INVALID_HANDLE_VALUE && (ConnectNamedPipe(s, &ov) || GetLastError() == ERROR_PIPE_CONNECTED),
          "waiter: connected");

    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "waiter: a read goes pending");
    t = later(&l, c, LATER_WRITE, "ping");
    CHECK(WaitForSingleObject(ov.hEvent, INFINITE) == WAIT_OBJECT_0 && GetOverlappedResult(s, &ov, &n, FALSE)
              && n == 4 && memcmp(buf, "ping", 4) == 0,
          "S72 WaitForSingleObject(INFINITE) on the read's event: a later write completes it");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);

    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, 4, NULL, &ov)), "waiter: a 4-byte read goes pending");
    t = later(&l, c, LATER_WRITE, "0123456789");
    SetLastError(0);
    CHECK(WaitForMultipleObjects(1, &ov.hEvent, FALSE, INFINITE) == WAIT_OBJECT_0
              && !GetOverlappedResult(s, &ov, &n, FALSE) && GetLastError() == ERROR_MORE_DATA && n == 4
              && memcmp(buf, "0123", 4) == 0,
          "S68 WaitForMultipleObjects(1, INFINITE): a longer message completes it with ERROR_MORE_DATA");
    CHECK(ReadFile(s, buf, sizeof buf, &n, &ov) && n == 6 && memcmp(buf, "456789", 6) == 0,
          "S62 the rest of the message follows");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);

    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "waiter: a read goes pending (SetEvent)");
    t = later(&l, ov.hEvent, LATER_SET_EVENT, NULL);
    SetLastError(0);
    CHECK(WaitForSingleObject(ov.hEvent, INFINITE) == WAIT_OBJECT_0 && !GetOverlappedResult(s, &ov, &n, FALSE)
              && GetLastError() == ERROR_IO_INCOMPLETE,
          "S171 SetEvent from another thread ends the wait; the read stays pending");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    CHECK(WriteFile(c, "late", 4, &n, NULL) || GetLastError() == ERROR_IO_PENDING, "waiter: write after SetEvent");
    CHECK(GetOverlappedResult(s, &ov, &n, TRUE) && n == 4 && memcmp(buf, "late", 4) == 0,
          "the read handed back by the interrupted wait completes with the next message");

    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "waiter: a read goes pending (CancelIoEx)");
    t = later(&l, s, LATER_CANCEL, NULL);
    SetLastError(0);
    CHECK(!GetOverlappedResult(s, &ov, &n, TRUE) && GetLastError() == ERROR_OPERATION_ABORTED && n == 0,
          "S165 CancelIoEx from another thread ends GetOverlappedResult(bWait TRUE): ERROR_OPERATION_ABORTED");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    CHECK(WriteFile(c, "whole", 5, &n, NULL) || GetLastError() == ERROR_IO_PENDING, "waiter: write after cancel");
    CHECK((ReadFile(s, buf, sizeof buf, &n, &ov) || GetOverlappedResult(s, &ov, &n, TRUE)) && n == 5
              && memcmp(buf, "whole", 5) == 0,
          "S165 the cancelled read took nothing: the next message is whole");

    SetLastError(0);
    CHECK(pending(ReadFile(c, buf, sizeof buf, NULL, &ov)), "waiter: a client read goes pending (disconnect)");
    t = later(&l, s, LATER_DISCONNECT, NULL);
    SetLastError(0);
    CHECK(!GetOverlappedResult(c, &ov, &n, TRUE) && GetLastError() == ERROR_PIPE_NOT_CONNECTED,
          "S54 S167 DisconnectNamedPipe ends a client read waited for with no timeout: ERROR_PIPE_NOT_CONNECTED");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    CloseHandle(c);

    SetLastError(0);
    CHECK(pending(ConnectNamedPipe(s, &ov)), "waiter: the instance listens again");
    c = ov_client(PIPE_OV("waiter"), PIPE_TYPE_MESSAGE);
    CHECK(GetOverlappedResult(s, &ov, &n, TRUE), "waiter: a new client");
    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "waiter: a read goes pending (peer close)");
    t = later(&l, c, LATER_CLOSE, NULL);
    CHECK(WaitForSingleObject(ov.hEvent, INFINITE) == WAIT_OBJECT_0 && !GetOverlappedResult(s, &ov, &n, FALSE)
              && GetLastError() == ERROR_BROKEN_PIPE && n == 0,
          "S83 the peer closes under a read waited for with no timeout: ERROR_BROKEN_PIPE, 0 bytes");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    DisconnectNamedPipe(s);

    SetLastError(0);
    CHECK(pending(ConnectNamedPipe(s, &ov)), "waiter: listens again (close)");
    c = ov_client(PIPE_OV("waiter"), PIPE_TYPE_MESSAGE);
    CHECK(GetOverlappedResult(s, &ov, &n, TRUE), "waiter: another client");
    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "waiter: a read goes pending (CloseHandle)");
    t = later(&l, s, LATER_CLOSE, NULL);
    CHECK(WaitForSingleObject(ov.hEvent, INFINITE) == WAIT_OBJECT_0 && ov.Internal == 0xC0000120u,
          "S165 closing the handle under a read waited for with no timeout: STATUS_CANCELLED, event set");
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    CloseHandle(c);
    CloseHandle(ov.hEvent);
}

static void test_overlapped_transact_and_nowait(void)
{
    OVERLAPPED ov, ovt;
    HANDLE s, c;
    DWORD n = 0, mode = PIPE_NOWAIT;
    char buf[64];
    static char big[600];
    s = ov_server(PIPE_OV("transact"), PIPE_TYPE_MESSAGE, 512);
    c = ov_client(PIPE_OV("transact"), PIPE_TYPE_MESSAGE);
    ov_init(&ov, TRUE);
    ov_init(&ovt, TRUE);
    SetLastError(0);
    CHECK(pending(TransactNamedPipe(c, "ping", 4, buf, sizeof buf, &n, &ovt)),
          "S109 overlapped TransactNamedPipe goes pending until the reply");
    {
        char request[16];
        BOOL ok = ReadFile(s, request, sizeof request, &n, &ov);
        if (!ok && GetLastError() == ERROR_IO_PENDING)
            ok = GetOverlappedResult(s, &ov, &n, TRUE);
        CHECK(ok && n == 4 && memcmp(request, "ping", 4) == 0, "S109 the server reads the request");
    }
    CHECK(WriteFile(s, "pong!", 5, &n, &ov) && GetOverlappedResult(c, &ovt, &n, TRUE) && n == 5
              && memcmp(buf, "pong!", 5) == 0,
          "S109 the reply completes it with the reply's size");
    CloseHandle(c);
    CloseHandle(s);

    /* S77 with an overlapped read pending at the peer (byte pipe, quota 512). */
    s = ov_server(PIPE_OV("nowait"), PIPE_TYPE_BYTE, 512);
    c = ov_client(PIPE_OV("nowait"), PIPE_TYPE_BYTE);
    SetNamedPipeHandleState(s, &mode, NULL, NULL);
    SetLastError(0);
    CHECK(pending(ReadFile(c, buf, 1, NULL, &ov)), "S77 a 1-byte overlapped read pending");
    Sleep(50);
    CHECK(WriteFile(s, big, 514, &n, NULL) && n == 1,
          "S77 PIPE_NOWAIT byte pipe, 514 bytes with a 1-byte read pending: TRUE, 1 written");
    CHECK(GetOverlappedResult(c, &ov, &n, TRUE) && n == 1, "S77 the pending read got that byte");
    SetLastError(0);
    CHECK(WriteFile(s, big, 513, &n, NULL) && n == 0,
          "S77 513 bytes with no read pending: TRUE, 0 written");
    CloseHandle(c);
    CloseHandle(s);
    CloseHandle(ov.hEvent);
    CloseHandle(ovt.hEvent);
}

static DWORD WINAPI wait_on_port(LPVOID port)
{
    DWORD n;
    ULONG_PTR key;
    LPOVERLAPPED ov;
    if (GetQueuedCompletionStatus((HANDLE)port, &n, &key, &ov, INFINITE))
        return 0;
    return GetLastError();
}

static void test_completion_ports(void)
{
    OVERLAPPED ov, ovw, *pov = (OVERLAPPED *)1;
    OVERLAPPED_ENTRY entries[4];
    HANDLE s, c, port;
    DWORD n = 0;
    ULONG removed = 0;
    ULONG_PTR key = 0;
    char buf[64];
    s = ov_server(PIPE_OV("port"), PIPE_TYPE_MESSAGE, 512);
    port = CreateIoCompletionPort(s, NULL, 7, 0);
    CHECK(port != NULL, "S169 CreateIoCompletionPort(h, NULL, key, 0) creates a bound port");
    ov_init(&ov, FALSE);
    ov_init(&ovw, FALSE);
    SetLastError(0);
    CHECK(pending(ConnectNamedPipe(s, &ov)), "an overlapped connect on a bound handle goes pending");
    c = ov_client(PIPE_OV("port"), PIPE_TYPE_MESSAGE);
    CHECK(CreateIoCompletionPort(c, port, 8, 0) == port,
          "S169 CreateIoCompletionPort(h2, port, key2, 0) binds another handle, returns the port");
    CHECK(GetQueuedCompletionStatus(port, &n, &key, &pov, 5000) && key == 7 && pov == &ov && n == 0,
          "S169 the completed connect's packet: TRUE, key, OVERLAPPED, 0 bytes");
    CHECK(WriteFile(c, "hey", 3, &n, &ovw)
              && GetQueuedCompletionStatus(port, &n, &key, &pov, 5000) && key == 8 && pov == &ovw && n == 3,
          "S160 S169 an immediate success queues a packet too");
    SetLastError(0);
    CHECK(ReadFile(s, buf, sizeof buf, &n, &ov)
              && GetQueuedCompletionStatus(port, &n, &key, &pov, 5000) && key == 7 && n == 3,
          "S160 an immediate read's packet");
    SetLastError(0);
    CHECK(!GetQueuedCompletionStatus(port, &n, &key, &pov, 0) && GetLastError() == WAIT_TIMEOUT && pov == NULL,
          "S170 a timed-out GetQueuedCompletionStatus: FALSE + WAIT_TIMEOUT, *lpOverlapped NULL");
    SetLastError(0);
    CHECK(pending(ReadFile(s, buf, sizeof buf, NULL, &ov)), "a read pending on the bound server");
    CloseHandle(c);
    SetLastError(0);
    CHECK(!GetQueuedCompletionStatus(port, &n, &key, &pov, 5000) && GetLastError() == ERROR_BROKEN_PIPE
              && pov == &ov && key == 7 && n == 0,
          "S169 S83 a failed operation is dequeued as FALSE with its error, key and OVERLAPPED");
    SetLastError(0);
    CHECK(!WriteFile(s, "x", 1, &n, &ovw) && GetLastError() == ERROR_NO_DATA
              && !GetQueuedCompletionStatus(port, &n, &key, &pov, 0) && GetLastError() == WAIT_TIMEOUT,
          "S84 S162 an immediate failure queues no packet");
    CHECK(PostQueuedCompletionStatus(port, 11, 21, (LPOVERLAPPED)0x10)
              && PostQueuedCompletionStatus(port, 12, 22, NULL)
              && GetQueuedCompletionStatus(port, &n, &key, &pov, 0) && n == 11 && key == 21
              && pov == (LPOVERLAPPED)0x10
              && GetQueuedCompletionStatus(port, &n, &key, &pov, 0) && n == 12 && key == 22 && pov == NULL,
          "S170 PostQueuedCompletionStatus: packets come out FIFO, as TRUE");
    for (int i = 0; i < 3; i++)
        PostQueuedCompletionStatus(port, i, 30 + i, NULL);
    CHECK(GetQueuedCompletionStatusEx(port, entries, 2, &removed, 0, FALSE) && removed == 2
              && entries[0].lpCompletionKey == 30 && entries[1].lpCompletionKey == 31
              && GetQueuedCompletionStatusEx(port, entries, 4, &removed, 0, FALSE) && removed == 1
              && entries[0].dwNumberOfBytesTransferred == 2,
          "GetQueuedCompletionStatusEx takes up to ulCount packets");
    SetLastError(0);
    CHECK(!GetQueuedCompletionStatusEx(port, entries, 4, &removed, 10, FALSE) && GetLastError() == WAIT_TIMEOUT,
          "GetQueuedCompletionStatusEx timeout -> WAIT_TIMEOUT");
    SetLastError(0);
    CHECK(CreateIoCompletionPort(s, port, 9, 0) == NULL && GetLastError() == ERROR_INVALID_PARAMETER,
          "binding a handle twice -> ERROR_INVALID_PARAMETER (documented)");
    SetLastError(0);
    CHECK(WaitForSingleObject(port, 0) == WAIT_FAILED && GetLastError() == ERROR_INVALID_HANDLE,
          "a completion port is not waitable -> WAIT_FAILED + ERROR_INVALID_HANDLE");
    CHECK(CloseHandle(s) && CloseHandle(port), "closing the handle and the port");
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    {
        HANDLE t = CreateThread(NULL, 0, wait_on_port, port, 0, NULL);
        DWORD code = 0;
        Sleep(100);
        CHECK(port != NULL && WaitForSingleObject(t, 0) == WAIT_TIMEOUT && CloseHandle(port)
                  && WaitForSingleObject(t, 5000) == WAIT_OBJECT_0 && GetExitCodeThread(t, &code)
                  && code == ERROR_ABANDONED_WAIT_0,
              "closing a port wakes its GetQueuedCompletionStatus: ERROR_ABANDONED_WAIT_0 (documented)");
        CloseHandle(t);
    }
}

static void test_overlapped_mailslot(void)
{
    OVERLAPPED ov;
    HANDLE slot, w;
    DWORD n = 0;
    char buf[64];
    ov_init(&ov, TRUE);
    slot = CreateMailslotA("\\\\.\\mailslot\\conformance\\overlapped", 0, MAILSLOT_WAIT_FOREVER, NULL);
    w = CreateFileA("\\\\.\\mailslot\\conformance\\overlapped", GENERIC_WRITE, FILE_SHARE_READ, NULL,
                    OPEN_EXISTING, 0, NULL);
    SetLastError(0);
    CHECK(pending(ReadFile(slot, buf, sizeof buf, NULL, &ov)) && WaitForSingleObject(ov.hEvent, 0) == WAIT_TIMEOUT,
          "S147 an overlapped mailslot ReadFile with nothing queued goes pending");
    CHECK(WriteFile(w, "m1", 2, &n, NULL) && GetOverlappedResult(slot, &ov, &n, TRUE) && n == 2
              && memcmp(buf, "m1", 2) == 0,
          "S147 a message completes it");
    WriteFile(w, "m2!", 3, &n, NULL);
    CHECK(ReadFile(slot, buf, sizeof buf, &n, &ov) && n == 3, "S160 a queued message completes at once");
    SetLastError(0);
    CHECK(pending(ReadFile(slot, buf, sizeof buf, NULL, &ov)) && CancelIoEx(slot, &ov)
              && !GetOverlappedResult(slot, &ov, &n, TRUE) && GetLastError() == ERROR_OPERATION_ABORTED,
          "S165 a cancelled mailslot read: ERROR_OPERATION_ABORTED");
    CHECK(WriteFile(w, "m3", 2, &n, NULL) && ReadFile(slot, buf, sizeof buf, &n, &ov) && n == 2,
          "the cancelled read took no message");
    SetMailslotInfo(slot, 0);
    SetLastError(0);
    CHECK(!ReadFile(slot, buf, sizeof buf, &n, &ov) && GetLastError() == ERROR_SEM_TIMEOUT,
          "S145 S162 read timeout 0, empty: ERROR_SEM_TIMEOUT at once");
    CloseHandle(w);
    CloseHandle(slot);
    CloseHandle(ov.hEvent);
}

static LONG shared_counter;
static CRITICAL_SECTION counter_lock;
static long plain_counter;

static DWORD WINAPI count_up(LPVOID unused)
{
    (void)unused;
    for (int i = 0; i < 10000; i++) {
        InterlockedIncrement(&shared_counter);
        EnterCriticalSection(&counter_lock);
        EnterCriticalSection(&counter_lock); /* recursive, as on Windows */
        plain_counter++;
        LeaveCriticalSection(&counter_lock);
        LeaveCriticalSection(&counter_lock);
    }
    return 0;
}

static void test_interlocked_and_critical_sections(void)
{
    LONG v = 5;
    HANDLE t[4];
    CHECK(InterlockedIncrement(&v) == 6 && InterlockedDecrement(&v) == 5,
          "InterlockedIncrement/Decrement return the new value");
    CHECK(InterlockedExchange(&v, 9) == 5 && v == 9, "InterlockedExchange returns the old value");
    CHECK(InterlockedCompareExchange(&v, 1, 8) == 9 && v == 9
              && InterlockedCompareExchange(&v, 1, 9) == 9 && v == 1,
          "InterlockedCompareExchange swaps only on a match, returns the old value");
    CHECK(InterlockedExchangeAdd(&v, 3) == 1 && v == 4, "InterlockedExchangeAdd returns the old value");
    InitializeCriticalSection(&counter_lock);
    shared_counter = 0;
    plain_counter = 0;
    for (int i = 0; i < 4; i++)
        t[i] = CreateThread(NULL, 0, count_up, NULL, 0, NULL);
    WaitForMultipleObjects(4, t, TRUE, INFINITE);
    CHECK(shared_counter == 40000 && plain_counter == 40000,
          "Interlocked counts and a critical section protect a counter across 4 threads");
    CHECK(TryEnterCriticalSection(&counter_lock), "TryEnterCriticalSection of a free section");
    LeaveCriticalSection(&counter_lock);
    DeleteCriticalSection(&counter_lock);
    for (int i = 0; i < 4; i++)
        CloseHandle(t[i]);
}

/* A WCHAR copy of an ASCII or UTF-8 (two-byte sequences) string. */
static WCHAR *W(const char *text, WCHAR *out)
{
    int i = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        if (*p >= 0xC0 && p[1]) {
            out[i++] = (WCHAR)(((p[0] & 0x1F) << 6) | (p[1] & 0x3F));
            p += 2;
        } else {
            out[i++] = *p++;
        }
    }
    out[i] = 0;
    return out;
}

static void test_wide_entry_points(void)
{
    WCHAR name[128], other[128], wide[256];
    char narrow[256], command[1024];
    HANDLE s, c, slot, w;
    DWORD n = 0, code = 0;
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    LPWSTR allocated = NULL;

    s = CreateNamedPipeW(W("\\\\.\\pipe\\conformance\\wide", name), PIPE_ACCESS_DUPLEX, 0, 2, 512, 512, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE, "CreateNamedPipeW");
    CHECK(WaitNamedPipeW(name, 1000), "WaitNamedPipeW: the instance listens");
    c = CreateFileA("\\\\.\\pipe\\conformance\\wide", GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(c != INVALID_HANDLE_VALUE && WriteFile(c, "w", 1, &n, NULL) && ReadFile(s, narrow, 8, &n, NULL) && n == 1,
          "a W name and the same A name are one pipe");
    CloseHandle(c);
    CloseHandle(s);

    s = CreateNamedPipeW(W("\\\\.\\pipe\\conformance\\wide-\xc3\xa9t\xc3\xa9", name), PIPE_ACCESS_DUPLEX, 0, 2, 512, 512, 0, NULL);
    c = CreateFileA("\\\\.\\pipe\\conformance\\wide-\xc3\xa9t\xc3\xa9", GENERIC_READ | GENERIC_WRITE, 0, NULL,
                    OPEN_EXISTING, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE,
          "a non-ASCII W name (UTF-16) reaches the UTF-8 A name");
    CloseHandle(c);
    slot = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, 0, 2, 512, 512, 0, NULL); /* a second instance */
    c = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(c != INVALID_HANDLE_VALUE, "CreateFileW of a pipe");
    CHECK(GetNamedPipeHandleStateW(slot, NULL, &n, NULL, NULL, wide, 256) && n == 2 && wide[0] != 0,
          "GetNamedPipeHandleStateW gives the client's user name as WCHARs");
    CHECK(GetNamedPipeClientComputerNameW(slot, wide, sizeof wide) && wide[0] != 0,
          "GetNamedPipeClientComputerNameW (length in bytes)");
    CloseHandle(c);
    CloseHandle(slot);
    CloseHandle(s);
    W("\\\\.\\pipe\\conformance\\bad", name);
    name[20] = 0xD800; /* a lone surrogate */
    SetLastError(0);
    CHECK(CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, 0, 1, 0, 0, 0, NULL) == INVALID_HANDLE_VALUE
              && GetLastError() == ERROR_INVALID_NAME,
          "a W name that is not UTF-16 -> ERROR_INVALID_NAME");

    slot = CreateMailslotW(W("\\\\.\\mailslot\\conformance\\wide", name), 0, 0, NULL);
    w = CreateFileW(name, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(slot != INVALID_HANDLE_VALUE && w != INVALID_HANDLE_VALUE && WriteFile(w, "hi", 2, &n, NULL)
              && ReadFile(slot, narrow, sizeof narrow, &n, NULL) && n == 2,
          "CreateMailslotW and CreateFileW of its writer");
    CloseHandle(w);
    CloseHandle(slot);

    n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, ERROR_BROKEN_PIPE, 0,
                       narrow, sizeof narrow, NULL);
    CHECK(n > 0 && FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM, NULL, ERROR_BROKEN_PIPE, 0, wide, 256, NULL) == n
              && memcmp(W(narrow, other), wide, (n + 1) * sizeof(WCHAR)) == 0,
          "FormatMessageW gives FormatMessageA's text as WCHARs");
    CHECK(FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ALLOCATE_BUFFER, NULL, ERROR_BROKEN_PIPE, 0,
                         (LPWSTR)&allocated, 0, NULL) == n
              && allocated != NULL && memcmp(allocated, wide, (n + 1) * sizeof(WCHAR)) == 0,
          "FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER)");
    LocalFree(allocated);

    CHECK(GetTempFileNameW(W("/tmp", name), W("pre", other), 0x1A5, wide) == 0x1A5
              && memcmp(wide, W("/tmp/pre1A5.TMP", name), 16 * sizeof(WCHAR)) == 0,
          "GetTempFileNameW builds the name in WCHARs");

    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    snprintf(command, sizeof command, "\"%s\" --exit 7", self);
    CHECK(CreateProcessW(NULL, W(command, wide), NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)
              && WaitForSingleObject(pi.hProcess, 10000) == WAIT_OBJECT_0
              && GetExitCodeProcess(pi.hProcess, &code) && code == 7,
          "CreateProcessW runs a UTF-16 command line");
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    SetLastError(0);
    CHECK(!DeleteFileW(W("/nonexistent-dir-pipeslot/x", name)) && GetLastError() == ERROR_PATH_NOT_FOUND,
          "DeleteFileW of a missing directory -> ERROR_PATH_NOT_FOUND");
}

int _tmain(int argc, LPTSTR argv[])
{
    if (argc > 1 && _tcscmp(argv[1], _T("--print-args")) == 0) {
        for (int i = 2; i < argc; i++)
            _tprintf(_T("%s|"), argv[i]);
        return 0;
    }
    if (argc > 2 && _tcscmp(argv[1], _T("--exit")) == 0)
        ExitProcess((UINT)_ttoi(argv[2]));
    if (argc > 1 && _tcscmp(argv[1], _T("--instance-child")) == 0)
        return instance_child();
    self = argv[0];

    test_last_error();
    test_handles();
    test_pipe_info();
    test_pipe_io();
    test_anon_flush();
    test_anon_handle_state();
    test_wrong_kind();
    test_std_handles();
    test_format_message();
    test_time_and_ids();
    test_create_process();
    test_named_pipe_names();
    test_named_pipe_instances();
    test_named_pipe_instances_in_two_processes();
    test_named_pipe_io();
    test_named_pipe_access();
    test_transact_and_call();
    test_files();
    test_mailslots();
    test_mailslot_info_beside_blocked_read();
    test_threads();
    test_wait_multiple();
    test_events();
    test_overlapped_connect_and_io();
    test_overlapped_transact_and_nowait();
    test_overlapped_waiting_thread_runs_read();
    test_completion_ports();
    test_overlapped_mailslot();
    test_interlocked_and_critical_sections();
    test_wide_entry_points();
    test_performance_counter();
    test_temp_files();
    test_cancel();
    test_cancel_wakes_blocked_calls();
    test_cancel_wakes_blocked_mailslot_read();

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
