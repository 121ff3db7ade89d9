/* conformance.c -- checks every function libpipeslot_win32 exports against
 * ../shared/spec/win32-semantics.md. One line per check; the last line is
 * "N passed, M failed". Run by tests/c_programs.rs; argv[0] must be a path
 * to this program, which re-runs itself as a child (--print-args, --exit,
 * --print-env). */
#include <windows.h>
#include <tchar.h>
#include <unistd.h>

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
    SetLastError(0);
    CHECK(!ReadFile(r, buf, 4, &n, &ov) && GetLastError() == ERROR_NOT_SUPPORTED && n == 0,
          "ReadFile with OVERLAPPED -> ERROR_NOT_SUPPORTED (documented)");
    SetLastError(0);
    CHECK(!WriteFile(w, "x", 1, &n, &ov) && GetLastError() == ERROR_NOT_SUPPORTED,
          "WriteFile with OVERLAPPED -> ERROR_NOT_SUPPORTED (documented)");

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

static void test_wrong_kind(void)
{
    HANDLE r, w;
    DWORD code = 0;
    CreatePipe(&r, &w, NULL, 0);
    SetLastError(0);
    CHECK(WaitForSingleObject(r, 0) == WAIT_FAILED && GetLastError() == ERROR_INVALID_HANDLE,
          "WaitForSingleObject on a pipe -> WAIT_FAILED + ERROR_INVALID_HANDLE");
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
              && GetExitCodeProcess(pi.hProcess, &code) && code == 4 && pi.hThread == NULL,
          "the environment block reaches the child");
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

int _tmain(int argc, LPTSTR argv[])
{
    if (argc > 1 && _tcscmp(argv[1], _T("--print-args")) == 0) {
        for (int i = 2; i < argc; i++)
            _tprintf(_T("%s|"), argv[i]);
        return 0;
    }
    if (argc > 2 && _tcscmp(argv[1], _T("--exit")) == 0)
        ExitProcess((UINT)_ttoi(argv[2]));
    self = argv[0];

    test_last_error();
    test_handles();
    test_pipe_info();
    test_pipe_io();
    test_wrong_kind();
    test_std_handles();
    test_format_message();
    test_time_and_ids();
    test_create_process();

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
