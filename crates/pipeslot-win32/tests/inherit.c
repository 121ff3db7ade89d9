/* inherit.c -- handle inheritance through CreateProcessA(bInheritHandles
 * TRUE), checked against docs/win32-semantics.md (S19, S133,
 * S135, S144, S152-S156 and the pipe statements they rely on).
 *
 * The program re-runs itself (argv[0] must be a path to it) as a child,
 * with a mode ("--child-...") and handle values on the command line,
 * printed with "%p" and parsed back with sscanf("%p"), as Windows programs
 * pass inherited handles. What is checked:
 *   - every inheritable handle (anonymous pipe ends, files, named-pipe
 *     client ends, connected named-pipe server instances, mailslots,
 *     mailslot writers) is valid in the child under the same value;
 *   - a non-inheritable handle, or any handle with bInheritHandles FALSE,
 *     gives ERROR_INVALID_HANDLE there;
 *   - named pipes keep message boundaries, buffered messages, pipe info
 *     and the connection across inheritance, also after the parent closes
 *     its copy; TransactNamedPipe from the child;
 *   - mailslots: queued and later messages, info, read timeouts (S144,
 *     S152), lifetime of the name (S156), inherited writers (S154);
 *   - STARTF_USESTDHANDLES with named-pipe handles: GetStdHandle in the
 *     child gives those very values;
 *   - transitivity: a child passes an inherited handle to a grandchild;
 *   - a listening named-pipe instance moves to the child, which serves
 *     the next client (S19; the parent's handle no longer connects).
 *
 * One line per check, "ok  : ..." or "FAIL: ..."; the last line is
 * "N passed, M failed". A child prints its own check lines (prefixed
 * "child: ") to the shared standard output and exits with its number of
 * failed checks, which the parent checks to be 0. Every wait is bounded:
 * reads of pipes poll PeekNamedPipe up to a deadline, mailslots have read
 * timeouts, children are waited for with a timeout (then killed) and
 * end themselves with alarm() as a last resort. Run by tests/c_inherit.rs
 * with PIPESLOT_ROOT set to a fresh directory. */
#include <windows.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/types.h>
#include <unistd.h>

static int passed, failed;
static const char *self;
/* "" in the top process, "child: " or "grandchild: " in the others. */
static const char *role = "";
/* Where check lines go: stdout, or stderr in a child whose stdout is a
 * pipe (the parent then passes its own stdout as the child's stderr). */
static FILE *log_out;

/* Parent's wait for a child, a child's wait for a grandchild, and the
 * alarm() that ends a stuck child (all in ms / s). */
#define CHILD_WAIT_MS 20000
#define GRANDCHILD_WAIT_MS 10000
#define CHILD_ALARM_S 25
/* Deadline of a read that waits for the other process. */
#define READ_WAIT_MS 10000
/* Deadline of a read that should end with ERROR_BROKEN_PIPE at once. */
#define EOF_WAIT_MS 3000

__attribute__((format(printf, 2, 3))) static void check(int ok, const char *fmt, ...)
{
    char line[1024];
    int len;
    va_list ap;
    len = snprintf(line, sizeof line, "%s: %s", ok ? "ok  " : "FAIL", role);
    va_start(ap, fmt);
    vsnprintf(line + len, sizeof line - (size_t)len - 1, fmt, ap);
    va_end(ap);
    /* One write per line, so that lines of processes sharing the output
       do not mix. */
    strcat(line, "\n");
    fputs(line, log_out);
    fflush(log_out);
    if (ok)
        passed++;
    else
        failed++;
}

#define CHECK(cond, ...) check((cond) ? 1 : 0, __VA_ARGS__)

static SECURITY_ATTRIBUTES inheritable = {sizeof(SECURITY_ATTRIBUTES), NULL, TRUE};
#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE)

static SECURITY_ATTRIBUTES not_inheritable = {sizeof(SECURITY_ATTRIBUTES), NULL, FALSE};

#define PIPE_KINDS "\\\\.\\pipe\\inherit\\kinds"
#define PIPE_KINDS2 "\\\\.\\pipe\\inherit\\kinds2"
#define PIPE_LISTEN "\\\\.\\pipe\\inherit\\listen"
#define PIPE_MSG "\\\\.\\pipe\\inherit\\msg"
#define PIPE_SRV "\\\\.\\pipe\\inherit\\server"
#define PIPE_TRANSACT "\\\\.\\pipe\\inherit\\transact"
#define PIPE_STDIN "\\\\.\\pipe\\inherit\\stdin"
#define PIPE_STDOUT "\\\\.\\pipe\\inherit\\stdout"
#define PIPE_GRAND "\\\\.\\pipe\\inherit\\grand"
#define PIPE_PLAIN_OUT "\\\\.\\pipe\\inherit\\plain-out"
#define PIPE_PLAIN_IN "\\\\.\\pipe\\inherit\\plain-in"
#define SLOT_PLAIN "\\\\.\\mailslot\\inherit\\plain"
#define SLOT_ACK "\\\\.\\mailslot\\inherit\\ack"
#define SLOT_KINDS "\\\\.\\mailslot\\inherit\\kinds"
#define SLOT_KINDS2 "\\\\.\\mailslot\\inherit\\kinds2"
#define SLOT_READ "\\\\.\\mailslot\\inherit\\read"
#define SLOT_TIMEOUT "\\\\.\\mailslot\\inherit\\timeout"
#define SLOT_WRITER "\\\\.\\mailslot\\inherit\\writer"

static HANDLE arg_handle(const char *text)
{
    void *p = NULL;
    if (text == NULL || sscanf(text, "%p", &p) != 1)
        return NULL;
    return (HANDLE)p;
}

static DWORD arg_dword(const char *text)
{
    unsigned long v = 0;
    if (text != NULL)
        v = strtoul(text, NULL, 0);
    return (DWORD)v;
}

/* ReadFile on a pipe handle that waits at most `ms` for data: polls
 * PeekNamedPipe, then reads once something is there (or once the peek
 * fails, so that ReadFile reports the pipe's state: ERROR_BROKEN_PIPE and
 * the like come at once). Timeout: FALSE with last error WAIT_TIMEOUT.
 * A handle PeekNamedPipe calls invalid is not read (it could be a
 * standard stream, whose read would block). */
static BOOL read_within(HANDLE h, void *buf, DWORD size, DWORD *n, DWORD ms)
{
    DWORD start = GetTickCount(), avail;
    *n = 0;
    for (;;) {
        avail = 0;
        if (!PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL)) {
            if (GetLastError() == ERROR_INVALID_HANDLE)
                return FALSE;
            break;
        }
        if (avail > 0)
            break;
        if (GetTickCount() - start >= ms) {
            SetLastError(WAIT_TIMEOUT);
            return FALSE;
        }
        Sleep(5);
    }
    return ReadFile(h, buf, size, n, NULL);
}

/* read_within, then: the read succeeded with exactly `expected`. */
static BOOL read_message(HANDLE h, const char *expected, DWORD ms)
{
    char buf[128];
    DWORD n = 0, len = (DWORD)strlen(expected);
    if (!read_within(h, buf, sizeof buf, &n, ms))
        return FALSE;
    return n == len && memcmp(buf, expected, len) == 0;
}

static BOOL write_message(HANDLE h, const char *text)
{
    DWORD n = 0, len = (DWORD)strlen(text);
    return WriteFile(h, text, len, &n, NULL) && n == len;
}

/* Starts "self <args>" (args from fmt) with bInheritHandles `inherit` and
 * `si` (NULL: a zeroed STARTUPINFOA, so the child shares stdout). */
__attribute__((format(printf, 4, 5))) static BOOL spawn(PROCESS_INFORMATION *pi, BOOL inherit,
                                                        STARTUPINFOA *si, const char *fmt, ...)
{
    char line[2048];
    STARTUPINFOA plain;
    va_list ap;
    int len = snprintf(line, sizeof line, "\"%s\" ", self);
    va_start(ap, fmt);
    vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap);
    va_end(ap);
    if (si == NULL) {
        memset(&plain, 0, sizeof plain);
        plain.cb = sizeof plain;
        si = &plain;
    }
    memset(pi, 0, sizeof *pi);
    /* Nothing buffered may be written twice or out of order. */
    fflush(stdout);
    fflush(stderr);
    return CreateProcessA(NULL, line, NULL, NULL, inherit, 0, NULL, NULL, si, pi);
}

/* Waits (bounded; a stuck child is killed) for a child started by spawn,
 * and checks that it ended with exit code 0 (all its checks passed). */
static void finish(PROCESS_INFORMATION *pi, DWORD ms, const char *what)
{
    DWORD code = 0xDEAD, w;
    w = WaitForSingleObject(pi->hProcess, ms);
    if (w != WAIT_OBJECT_0) {
        kill((pid_t)pi->dwProcessId, SIGKILL);
        WaitForSingleObject(pi->hProcess, 5000);
    }
    GetExitCodeProcess(pi->hProcess, &code);
    CHECK(w == WAIT_OBJECT_0 && code == 0, "%s (exit code %u = the child's failed checks%s)", what,
          (unsigned)code, w == WAIT_OBJECT_0 ? "" : "; timed out, killed");
    CloseHandle(pi->hProcess);
}

/* Connects the instance `s` to which a client has opened already. */
static BOOL connected(HANDLE s)
{
    return !ConnectNamedPipe(s, NULL) && GetLastError() == ERROR_PIPE_CONNECTED;
}

/* ---- The parent's sync channel: a mailslot opened by name ------------ */

static HANDLE ack_slot = INVALID_HANDLE_VALUE;

/* (child) Sends `word` to the parent through SLOT_ACK, opened by name:
 * independent of inheritance. */
static void ack(const char *word)
{
    HANDLE w = CreateFileA(SLOT_ACK, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(w != INVALID_HANDLE_VALUE && write_message(w, word),
          "tells the parent \"%s\" through a mailslot opened by name", word);
    if (w != INVALID_HANDLE_VALUE)
        CloseHandle(w);
}

/* (parent) Waits (the ack mailslot's 10 s timeout) for `word`. */
static BOOL wait_ack(const char *word)
{
    char buf[64];
    DWORD n = 0;
    return ReadFile(ack_slot, buf, sizeof buf, &n, NULL) && n == strlen(word)
        && memcmp(buf, word, n) == 0;
}

/* ======================================================================
 * Children
 * ====================================================================== */

/* --child-kinds [+|-]K:HANDLE ...: '+' the handle must be valid and work
 * as its kind, '-' every use gives ERROR_INVALID_HANDLE. Kinds: R/W
 * anonymous read/write end, F file (holding "file data"; a valid one is
 * read, then "+child" is appended), C named-pipe client end, S connected
 * server instance, L listening instance, M mailslot, X mailslot writer
 * (a valid one writes the message "x"). No handle is created before the
 * checks, so no handle of the child's own can take a tested value. */
static void child_kind(char sign, char kind, HANDLE h)
{
    BOOL ok = FALSE;
    DWORD flags = 99, n = 0, err;
    char buf[32];
    const char *what = "?";
    SetLastError(0);
    switch (kind) {
    case 'R':
        what = "S133 anonymous pipe read end";
        ok = GetNamedPipeInfo(h, &flags, NULL, NULL, NULL) && flags == PIPE_SERVER_END;
        break;
    case 'W':
        what = "S133 anonymous pipe write end";
        ok = GetNamedPipeInfo(h, &flags, NULL, NULL, NULL) && flags == PIPE_CLIENT_END;
        break;
    case 'F':
        what = "file (CreateFileA)";
        ok = ReadFile(h, buf, 9, &n, NULL) && n == 9 && memcmp(buf, "file data", 9) == 0
            && WriteFile(h, "+child", 6, &n, NULL) && n == 6;
        break;
    case 'C':
        what = "S19 named-pipe client end";
        ok = GetNamedPipeInfo(h, &flags, NULL, NULL, NULL) && flags == PIPE_TYPE_MESSAGE;
        break;
    case 'S':
        what = "S19 connected named-pipe server instance";
        ok = GetNamedPipeInfo(h, &flags, NULL, NULL, NULL)
            && flags == (PIPE_SERVER_END | PIPE_TYPE_MESSAGE);
        break;
    case 'L':
        what = "S19 listening named-pipe instance";
        ok = GetNamedPipeInfo(h, &flags, NULL, NULL, NULL)
            && flags == (PIPE_SERVER_END | PIPE_TYPE_MESSAGE);
        break;
    case 'M':
        what = "S144 mailslot (reading end)";
        ok = GetMailslotInfo(h, NULL, NULL, NULL, NULL);
        break;
    case 'X':
        what = "S154 mailslot writer";
        ok = WriteFile(h, "x", 1, &n, NULL) && n == 1;
        break;
    default:
        CHECK(0, "unknown kind '%c' on the command line", kind);
        return;
    }
    err = GetLastError();
    if (sign == '+')
        CHECK(ok, "%s %p is valid and works under the parent's value (last error %u)", what, h,
              (unsigned)err);
    else
        CHECK(!ok && err == ERROR_INVALID_HANDLE, "%s %p -> ERROR_INVALID_HANDLE (got %s, %u)", what,
              h, ok ? "success" : "failure", (unsigned)err);
}

static void child_kinds(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        char sign = 0, kind = 0;
        void *p = NULL;
        if (sscanf(argv[i], "%c%c:%p", &sign, &kind, &p) != 3 || (sign != '+' && sign != '-')) {
            CHECK(0, "bad argument %s", argv[i]);
            continue;
        }
        child_kind(sign, kind, (HANDLE)p);
    }
}

/* --child-listen S: S = a listening instance the parent passed; serve one
 * client: "child:" + its message. */
static void child_listen(char **argv)
{
    HANDLE s = arg_handle(argv[2]);
    char buf[32];
    DWORD n = 0;
    CHECK(ConnectNamedPipe(s, NULL) || GetLastError() == ERROR_PIPE_CONNECTED,
          "S19 ConnectNamedPipe on the inherited listening instance %p", s);
    memcpy(buf, "child:", 6);
    CHECK(ReadFile(s, buf + 6, sizeof buf - 6, &n, NULL) && n == 4,
          "S19 the child reads its client's request");
    CHECK(WriteFile(s, buf, n + 6, &n, NULL) && FlushFileBuffers(s),
          "S19 the child answers it");
    CHECK(CloseHandle(s), "the child closes its instance");
}

/* --child-anon R W: R = read end holding "ping", W = write end the parent
 * reads. */
static void child_anon(char **argv)
{
    HANDLE r = arg_handle(argv[2]), w = arg_handle(argv[3]);
    char buf[16];
    DWORD n = 0, flags = 99;
    CHECK(read_message(r, "ping", READ_WAIT_MS),
          "S133 rule 7: ReadFile on the inherited read end %p gets the parent's \"ping\"", r);
    CHECK(write_message(w, "pong"),
          "S133 rule 7: WriteFile on the inherited write end %p (by value, not a std handle)", w);
    CHECK(GetNamedPipeInfo(r, &flags, NULL, NULL, NULL) && flags == PIPE_SERVER_END,
          "S130 the inherited read end is still a server end");
    SetLastError(0);
    CHECK(!ReadFile(w, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S132 the inherited write end is still write-only: ReadFile -> ERROR_ACCESS_DENIED");
}

/* --child-msg-client C FLAGS OUT IN MAX: C = client end of a message
 * pipe; the server wrote "first message" and "second" before the spawn. */
static void child_msg_client(char **argv)
{
    HANDLE c = arg_handle(argv[2]);
    DWORD flags = 99, out = 0, in = 0, max = 0, n = 99, mode = PIPE_READMODE_MESSAGE;
    char buf[64];
    CHECK(GetNamedPipeInfo(c, &flags, &out, &in, &max) && flags == arg_dword(argv[3])
              && out == arg_dword(argv[4]) && in == arg_dword(argv[5]) && max == arg_dword(argv[6]),
          "S105-S107 GetNamedPipeInfo on the inherited client end %p: the parent's flags, "
          "sizes and max instances (got %u %u %u %u)",
          c, (unsigned)flags, (unsigned)out, (unsigned)in, (unsigned)max);
    CHECK(SetNamedPipeHandleState(c, &mode, NULL, NULL),
          "S99 the inherited client end switches to PIPE_READMODE_MESSAGE");
    SetLastError(0);
    CHECK(!read_within(c, buf, 4, &n, READ_WAIT_MS) && GetLastError() == ERROR_MORE_DATA && n == 4
              && memcmp(buf, "firs", 4) == 0,
          "S62 a message written before the spawn, read into 4 bytes -> ERROR_MORE_DATA, 4 bytes");
    CHECK(ReadFile(c, buf, sizeof buf, &n, NULL) && n == 9 && memcmp(buf, "t message", 9) == 0,
          "S62 the rest of that message");
    CHECK(read_message(c, "second", READ_WAIT_MS), "S61 the second message, whole and alone");
    CHECK(write_message(c, "reply one"), "the child writes a message on the inherited client end");
    CHECK(write_message(c, "reply two!"), "the child writes a second message");
    CHECK(read_message(c, "bye", READ_WAIT_MS),
          "the connection stays open though the parent closed its copy: \"bye\" arrives");
}

/* --child-msg-server S FLAGS OUT IN MAX: S = connected server instance of
 * a message pipe (PIPE_READMODE_MESSAGE); the client wrote "hello server"
 * and "again" before the spawn. */
static void child_msg_server(char **argv)
{
    HANDLE s = arg_handle(argv[2]);
    DWORD flags = 99, out = 0, in = 0, max = 0, n = 99, state = 99, mode = PIPE_READMODE_MESSAGE;
    char buf[64];
    CHECK(GetNamedPipeInfo(s, &flags, &out, &in, &max) && flags == arg_dword(argv[3])
              && out == arg_dword(argv[4]) && in == arg_dword(argv[5]) && max == arg_dword(argv[6]),
          "S105 S106 GetNamedPipeInfo on the inherited server instance %p: the parent's flags, "
          "sizes and max instances (got %u %u %u %u)",
          s, (unsigned)flags, (unsigned)out, (unsigned)in, (unsigned)max);
    /* The read mode belongs to the instance end, which the inherited
       handle shares (set at creation here). */
    CHECK(GetNamedPipeHandleStateA(s, &state, NULL, NULL, NULL, NULL, 0)
              && state == PIPE_READMODE_MESSAGE,
          "S104 the inherited instance keeps its PIPE_READMODE_MESSAGE (got %u)", (unsigned)state);
    SetNamedPipeHandleState(s, &mode, NULL, NULL);
    SetLastError(0);
    CHECK(!read_within(s, buf, 5, &n, READ_WAIT_MS) && GetLastError() == ERROR_MORE_DATA && n == 5
              && memcmp(buf, "hello", 5) == 0,
          "S62 the client's message from before the spawn, read into 5 bytes -> ERROR_MORE_DATA");
    CHECK(ReadFile(s, buf, sizeof buf, &n, NULL) && n == 7 && memcmp(buf, " server", 7) == 0,
          "S62 the rest of that message");
    CHECK(read_message(s, "again", READ_WAIT_MS), "S61 the client's second message, whole and alone");
    CHECK(write_message(s, "hello client"), "the child writes on the inherited server instance");
    CHECK(write_message(s, "2nd reply"), "the child writes a second message");
    CHECK(read_message(s, "bye", READ_WAIT_MS),
          "the connection stays open though the parent closed its copy: \"bye\" arrives");
}

/* --child-transact C: C = client end of a message pipe whose server
 * thread (in the parent) answers "reply: " + request. */
static void child_transact(char **argv)
{
    HANDLE c = arg_handle(argv[2]);
    DWORD mode = PIPE_READMODE_MESSAGE, n = 99;
    char buf[64];
    CHECK(SetNamedPipeHandleState(c, &mode, NULL, NULL),
          "S99 the inherited client end %p switches to message read mode", c);
    CHECK(TransactNamedPipe(c, "request one", 11, buf, sizeof buf, &n, NULL) && n == 18
              && memcmp(buf, "reply: request one", 18) == 0,
          "S112 TransactNamedPipe on the inherited client end, against the parent's thread");
    n = 99;
    SetLastError(0);
    CHECK(!TransactNamedPipe(c, "request two", 11, buf, 4, &n, NULL)
              && GetLastError() == ERROR_MORE_DATA && n == 4 && memcmp(buf, "repl", 4) == 0,
          "S113 a reply longer than the buffer -> ERROR_MORE_DATA, 4 bytes");
    CHECK(ReadFile(c, buf, sizeof buf, &n, NULL) && n == 14 && memcmp(buf, "y: request two", 14) == 0,
          "S113 the rest of the reply with ReadFile");
}

/* --child-slot M: M = mailslot created with a 5000 ms timeout holding
 * "one" and "two!"; the parent closes its copy after the spawn, then
 * writes "three" once told "ready". */
static void child_slot(char **argv)
{
    HANDLE m = arg_handle(argv[2]);
    DWORD max = 7, next = 0, count = 0, timeout = 0, n = 0;
    char buf[64];
    CHECK(GetMailslotInfo(m, &max, &next, &count, &timeout) && max == 0 && next == 3 && count == 2
              && timeout == 5000,
          "S144 S151 GetMailslotInfo on the inherited mailslot %p: max 0, next 3, count 2, "
          "the creation timeout 5000 (got %u %u %u %u)",
          m, (unsigned)max, (unsigned)next, (unsigned)count, (unsigned)timeout);
    CHECK(ReadFile(m, buf, sizeof buf, &n, NULL) && n == 3 && memcmp(buf, "one", 3) == 0,
          "S148 the child reads the first message queued before the spawn");
    CHECK(GetMailslotInfo(m, NULL, &next, &count, NULL) && next == 4 && count == 1,
          "S151 then next size 4, count 1");
    CHECK(ReadFile(m, buf, sizeof buf, &n, NULL) && n == 4 && memcmp(buf, "two!", 4) == 0,
          "S148 the second message");
    ack("ready");
    CHECK(ReadFile(m, buf, sizeof buf, &n, NULL) && n == 5 && memcmp(buf, "three", 5) == 0,
          "S156 a message written after the parent closed its mailslot handle reaches the child");
    CHECK(GetMailslotInfo(m, NULL, &next, &count, NULL) && next == MAILSLOT_NO_MESSAGE && count == 0,
          "S151 empty: MAILSLOT_NO_MESSAGE, count 0");
}

/* --child-slot-timeout M MS: M = empty mailslot whose timeout the parent
 * set with SetMailslotInfo(MS) before the spawn. */
static void child_slot_timeout(char **argv)
{
    HANDLE m = arg_handle(argv[2]);
    DWORD want = arg_dword(argv[3]), timeout = 0, n = 0, start, took;
    char buf[16];
    CHECK(GetMailslotInfo(m, NULL, NULL, NULL, &timeout) && timeout == want,
          "S152 the inherited mailslot %p reports the timeout set by SetMailslotInfo before the "
          "spawn (%u, got %u)",
          m, (unsigned)want, (unsigned)timeout);
    start = GetTickCount();
    SetLastError(0);
    CHECK(!ReadFile(m, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_SEM_TIMEOUT
              && (took = GetTickCount() - start) >= want - want / 5 && took < want + 4000,
          "S146 S152 ReadFile of the empty inherited mailslot waits that timeout, then "
          "ERROR_SEM_TIMEOUT");
    CHECK(SetMailslotInfo(m, 700), "S152 SetMailslotInfo(700) on the inherited handle");
}

/* --child-slot-writer X: X = writer of the parent's mailslot. */
static void child_slot_writer(char **argv)
{
    HANDLE x = arg_handle(argv[2]);
    DWORD n = 0;
    char buf[16];
    CHECK(write_message(x, "via inherited writer"),
          "S154 WriteFile on the inherited mailslot writer %p", x);
    CHECK(write_message(x, "2nd"), "S148 a second message through it");
    /* S154 allows ERROR_INVALID_PARAMETER or ERROR_ACCESS_DENIED; the
       header (and conformance.c, in one process) choose the latter. */
    SetLastError(0);
    CHECK(!ReadFile(x, buf, sizeof buf, &n, NULL) && GetLastError() == ERROR_ACCESS_DENIED,
          "S154 ReadFile on the inherited writer -> ERROR_ACCESS_DENIED (as in one process)");
}

/* --child-stdio IN OUT: started with STARTF_USESTDHANDLES, hStdInput = IN
 * (client end of a message pipe holding "in one", "in two"), hStdOutput
 * = OUT (client end of a message pipe), hStdError = the parent's stdout,
 * where the check lines go. */
static void child_stdio(char **argv)
{
    HANDLE in = arg_handle(argv[2]), out = arg_handle(argv[3]);
    HANDLE std_in = GetStdHandle(STD_INPUT_HANDLE), std_out = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD flags = 99, mode = PIPE_READMODE_MESSAGE;
    CHECK(std_out == out, "S133 GetStdHandle(STD_OUTPUT_HANDLE) is the hStdOutput value %p (got %p)",
          out, std_out);
    CHECK(std_in == in, "S133 GetStdHandle(STD_INPUT_HANDLE) is the hStdInput value %p (got %p)", in,
          std_in);
    CHECK(GetNamedPipeInfo(std_out, &flags, NULL, NULL, NULL) && flags == PIPE_TYPE_MESSAGE,
          "S105 the standard output handle is the named-pipe client end");
    CHECK(write_message(std_out, "out one"), "WriteFile on the standard output handle");
    CHECK(write_message(std_out, "out two!"), "a second message on the standard output handle");
    CHECK(SetNamedPipeHandleState(std_in, &mode, NULL, NULL),
          "S99 the standard input handle switches to message read mode");
    CHECK(read_message(std_in, "in one", READ_WAIT_MS),
          "S61 ReadFile on the standard input handle: the first message alone");
    CHECK(read_message(std_in, "in two", READ_WAIT_MS), "S61 then the second message");
}

/* --child-relay W C: W = anonymous write end, C = client end of a message
 * pipe; passes both on to a grandchild (rule 6). */
static void child_relay(char **argv)
{
    HANDLE w = arg_handle(argv[2]), c = arg_handle(argv[3]);
    DWORD flags = 99;
    PROCESS_INFORMATION pi;
    CHECK(GetNamedPipeInfo(w, &flags, NULL, NULL, NULL) && flags == PIPE_CLIENT_END,
          "S133 the inherited anonymous write end %p is valid", w);
    CHECK(GetNamedPipeInfo(c, &flags, NULL, NULL, NULL) && flags == PIPE_TYPE_MESSAGE,
          "S19 the inherited named-pipe client end %p is valid", c);
    if (!spawn(&pi, TRUE, NULL, "--child-grand %p %p", w, c)) {
        CHECK(0, "CreateProcessA of the grandchild (error %u)", (unsigned)GetLastError());
        return;
    }
    CHECK(1, "CreateProcessA of the grandchild, bInheritHandles TRUE");
    finish(&pi, GRANDCHILD_WAIT_MS, "the grandchild used the handles this child inherited");
}

/* --child-grand W C: the third level. */
static void child_grand(char **argv)
{
    HANDLE w = arg_handle(argv[2]), c = arg_handle(argv[3]);
    CHECK(write_message(w, "grandchild"),
          "S133 rule 6: WriteFile on the anonymous write end %p inherited through a child", w);
    CHECK(write_message(c, "from grandchild"),
          "S19 rule 6: WriteFile on the named-pipe client end %p inherited through a child", c);
}

static int child_main(int argc, char **argv)
{
    const char *mode = argv[1];
    alarm(CHILD_ALARM_S);
    role = strcmp(mode, "--child-grand") == 0 ? "grandchild: " : "child: ";
    if (strcmp(mode, "--child-stdio") == 0)
        log_out = stderr;
    if (strcmp(mode, "--child-kinds") == 0)
        child_kinds(argc, argv);
    else if (argc < 3)
        CHECK(0, "%s: missing arguments", mode);
    else if (strcmp(mode, "--child-anon") == 0 && argc >= 4)
        child_anon(argv);
    else if (strcmp(mode, "--child-listen") == 0)
        child_listen(argv);
    else if (strcmp(mode, "--child-msg-client") == 0 && argc >= 7)
        child_msg_client(argv);
    else if (strcmp(mode, "--child-msg-server") == 0 && argc >= 7)
        child_msg_server(argv);
    else if (strcmp(mode, "--child-transact") == 0)
        child_transact(argv);
    else if (strcmp(mode, "--child-slot") == 0)
        child_slot(argv);
    else if (strcmp(mode, "--child-slot-timeout") == 0 && argc >= 4)
        child_slot_timeout(argv);
    else if (strcmp(mode, "--child-slot-writer") == 0)
        child_slot_writer(argv);
    else if (strcmp(mode, "--child-stdio") == 0 && argc >= 4)
        child_stdio(argv);
    else if (strcmp(mode, "--child-relay") == 0 && argc >= 4)
        child_relay(argv);
    else if (strcmp(mode, "--child-grand") == 0 && argc >= 4)
        child_grand(argv);
    else
        CHECK(0, "unknown mode or missing arguments: %s", mode);
    fflush(stdout);
    fflush(stderr);
    return failed > 100 ? 100 : failed;
}

/* ======================================================================
 * Parent
 * ====================================================================== */

/* Rules 1 and 2: each kind valid in the child when inheritable and
 * bInheritHandles TRUE; invalid when not inheritable, or with FALSE. */
static void test_kinds(void)
{
    char path[256], buf[64];
    HANDLE r, w, f, s, c, m, x, tmp;
    DWORD n = 0, count = 99;
    PROCESS_INFORMATION pi;

    snprintf(path, sizeof path, "/tmp/pipeslot-win32-inherit-%d.txt", (int)getpid());
    tmp = CreateFileA(path, GENERIC_WRITE, SHARE_ALL, NULL, CREATE_ALWAYS, 0, NULL);
    CHECK(tmp != INVALID_HANDLE_VALUE && write_message(tmp, "file data"), "a file holding \"file data\"");
    CloseHandle(tmp);

    /* Inheritable handles of every kind. */
    CHECK(CreatePipe(&r, &w, &inheritable, 0), "S133 CreatePipe with bInheritHandle TRUE");
    f = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, SHARE_ALL, &inheritable, OPEN_EXISTING, 0,
                    NULL);
    CHECK(f != INVALID_HANDLE_VALUE, "CreateFileA(file) with bInheritHandle TRUE");
    s = CreateNamedPipeA(PIPE_KINDS, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         0, 0, 0, &inheritable);
    c = CreateFileA(PIPE_KINDS, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && connected(s),
          "S19 inheritable named-pipe instance and client end, connected");
    m = CreateMailslotA(SLOT_KINDS, 0, 0, &inheritable);
    x = CreateFileA(SLOT_KINDS, GENERIC_WRITE, FILE_SHARE_READ, &inheritable, OPEN_EXISTING, 0, NULL);
    CHECK(m != INVALID_HANDLE_VALUE && x != INVALID_HANDLE_VALUE,
          "inheritable mailslot and mailslot writer");

    if (spawn(&pi, TRUE, NULL, "--child-kinds +R:%p +W:%p +F:%p +C:%p +S:%p +M:%p +X:%p", r, w, f, c,
              s, m, x))
        finish(&pi, CHILD_WAIT_MS,
               "rule 1 S19 S133: every inheritable handle is valid in the child under its value");
    else
        CHECK(0, "CreateProcessA(--child-kinds, TRUE) (error %u)", (unsigned)GetLastError());
    CHECK(GetMailslotInfo(m, NULL, NULL, &count, NULL) && count == 1
              && ReadFile(m, buf, sizeof buf, &n, NULL) && n == 1 && buf[0] == 'x',
          "S154 the child's message through the inherited writer reached the parent's mailslot");
    tmp = CreateFileA(path, GENERIC_READ, SHARE_ALL, NULL, OPEN_EXISTING, 0, NULL);
    n = 0;
    CHECK(tmp != INVALID_HANDLE_VALUE && ReadFile(tmp, buf, sizeof buf, &n, NULL) && n == 15
              && memcmp(buf, "file data+child", 15) == 0,
          "the child wrote to the file through the inherited handle");
    CloseHandle(tmp);

    /* The same handles, bInheritHandles FALSE. */
    if (spawn(&pi, FALSE, NULL, "--child-kinds -R:%p -W:%p -F:%p -C:%p -S:%p -M:%p -X:%p", r, w, f, c,
              s, m, x))
        finish(&pi, CHILD_WAIT_MS, "rule 2 S133: with bInheritHandles FALSE no handle reaches the child");
    else
        CHECK(0, "CreateProcessA(--child-kinds, FALSE) (error %u)", (unsigned)GetLastError());
    CHECK(GetMailslotInfo(m, NULL, NULL, &count, NULL) && count == 0,
          "nothing reached the mailslot from that child");
    CHECK(write_message(c, "still here") && read_message(s, "still here", 2000),
          "the parent's named-pipe handles still work after the children");
    CloseHandle(r);
    CloseHandle(w);
    CloseHandle(f);
    CloseHandle(c);
    CloseHandle(s);
    CloseHandle(x);
    CloseHandle(m);

    /* Non-inheritable handles (NULL attributes or bInheritHandle FALSE),
       bInheritHandles TRUE. */
    CHECK(CreatePipe(&r, &w, NULL, 0), "CreatePipe with NULL attributes");
    f = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, SHARE_ALL, &not_inheritable, OPEN_EXISTING,
                    0, NULL);
    s = CreateNamedPipeA(PIPE_KINDS2, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         0, 0, 0, &not_inheritable);
    c = CreateFileA(PIPE_KINDS2, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    m = CreateMailslotA(SLOT_KINDS2, 0, 0, NULL);
    x = CreateFileA(SLOT_KINDS2, GENERIC_WRITE, FILE_SHARE_READ, &not_inheritable, OPEN_EXISTING, 0,
                    NULL);
    CHECK(f != INVALID_HANDLE_VALUE && s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE
              && connected(s) && m != INVALID_HANDLE_VALUE && x != INVALID_HANDLE_VALUE,
          "non-inheritable file, named pipe (both ends), mailslot and writer");
    if (spawn(&pi, TRUE, NULL, "--child-kinds -R:%p -W:%p -F:%p -C:%p -S:%p -M:%p -X:%p", r, w, f, c,
              s, m, x))
        finish(&pi, CHILD_WAIT_MS,
               "rule 2 S19 S133: a non-inheritable handle is invalid in the child");
    else
        CHECK(0, "CreateProcessA(--child-kinds, non-inheritable) (error %u)", (unsigned)GetLastError());
    CHECK(GetMailslotInfo(m, NULL, NULL, &count, NULL) && count == 0,
          "nothing reached the non-inheritable mailslot");
    CloseHandle(r);
    CloseHandle(w);
    CloseHandle(f);
    CloseHandle(c);
    CloseHandle(s);
    CloseHandle(x);
    CloseHandle(m);
    DeleteFileA(path);
}

/* Rule 8 (S19): a listening instance is passed: the child serves it
 * from then on. The parent closes its handle at once, as Windows servers
 * that hand instances to workers do; the instance stays (S26, S27), and
 * the next client is the child's. pipeslot moves the instance to the
 * child (the parent's handle no longer connects: ERROR_NOT_SUPPORTED),
 * where Windows would let both use it. */
static void test_listening_instance(void)
{
    HANDLE s, c;
    PROCESS_INFORMATION pi;
    char reply[32];
    DWORD n = 0, mode = PIPE_READMODE_MESSAGE;
    ULONG pid = 0;
    s = CreateNamedPipeA(PIPE_LISTEN, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         0, 0, 0, &inheritable);
    CHECK(s != INVALID_HANDLE_VALUE, "S19 an inheritable named-pipe instance, left listening");
    if (!spawn(&pi, TRUE, NULL, "--child-listen %p", s)) {
        CHECK(0, "CreateProcessA(--child-listen) (error %u)", (unsigned)GetLastError());
        CloseHandle(s);
        return;
    }
    SetLastError(0);
    CHECK(!ConnectNamedPipe(s, NULL) && GetLastError() == ERROR_NOT_SUPPORTED,
          "S19 the parent's handle of the instance passed to the child no longer connects");
    CHECK(CloseHandle(s), "the parent closes its handle of the listening instance");
    CHECK(WaitNamedPipeA(PIPE_LISTEN, CHILD_WAIT_MS), "S36 the instance still listens, in the child");
    c = CreateFileA(PIPE_LISTEN, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(c != INVALID_HANDLE_VALUE && SetNamedPipeHandleState(c, &mode, NULL, NULL)
              && TransactNamedPipe(c, "ping", 4, reply, sizeof reply, &n, NULL) && n == 10
              && memcmp(reply, "child:ping", 10) == 0,
          "S19 a client of the inherited listening instance is served by the child");
    CHECK(GetNamedPipeServerProcessId(c, &pid) && pid == pi.dwProcessId,
          "S125 the server process is the child");
    CloseHandle(c);
    finish(&pi, CHILD_WAIT_MS, "S19 the child served the listening instance it inherited");
}

/* Rule 7 (and S135, S129): anonymous pipe ends passed by value. */
static void test_anon(void)
{
    HANDLE pr, pw, qr, qw;
    char buf[16];
    DWORD n = 0;
    PROCESS_INFORMATION pi;
    CHECK(CreatePipe(&pr, &pw, &inheritable, 0) && CreatePipe(&qr, &qw, &inheritable, 0),
          "S133 two inheritable anonymous pipes");
    CHECK(write_message(pw, "ping"), "the parent writes \"ping\" before the spawn");
    if (!spawn(&pi, TRUE, NULL, "--child-anon %p %p", pr, qw)) {
        CHECK(0, "CreateProcessA(--child-anon) (error %u)", (unsigned)GetLastError());
        return;
    }
    CHECK(CloseHandle(pr) && CloseHandle(qw), "the parent closes its copies of the child's ends");
    CHECK(read_message(qr, "pong", READ_WAIT_MS),
          "S133 rule 7: the parent reads what the child wrote to the inherited write end");
    finish(&pi, CHILD_WAIT_MS, "rule 7: the child used the anonymous pipe ends by value");
    n = 9;
    SetLastError(0);
    CHECK(!read_within(qr, buf, sizeof buf, &n, EOF_WAIT_MS) && GetLastError() == ERROR_BROKEN_PIPE
              && n == 0,
          "S135 once the child (the last writer) exited: ReadFile -> ERROR_BROKEN_PIPE");
    SetLastError(0);
    CHECK(!WriteFile(pw, "x", 1, &n, NULL) && GetLastError() == ERROR_NO_DATA,
          "S129 once the child (the last reader) exited: WriteFile -> ERROR_NO_DATA");
    CloseHandle(qr);
    CloseHandle(pw);
}

/* Rule 3: the child inherits a client end; the parent closes its copy. */
static void test_msg_client(void)
{
    HANDLE s, c;
    DWORD flags = 99, out = 0, in = 0, max = 0, n = 0;
    char buf[16];
    PROCESS_INFORMATION pi;
    s = CreateNamedPipeA(PIPE_MSG, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 2,
                         1024, 2048, 0, NULL);
    c = CreateFileA(PIPE_MSG, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && connected(s),
          "S19 a message pipe whose client end is inheritable, connected");
    CHECK(GetNamedPipeInfo(c, &flags, &out, &in, &max) && flags == PIPE_TYPE_MESSAGE && out == 1024
              && in == 2048 && max == 2,
          "S105-S107 the parent's GetNamedPipeInfo of the client end");
    CHECK(write_message(s, "first message") && write_message(s, "second"),
          "the server writes two messages before the spawn");
    if (!spawn(&pi, TRUE, NULL, "--child-msg-client %p %u %u %u %u", c, (unsigned)flags,
               (unsigned)out, (unsigned)in, (unsigned)max)) {
        CHECK(0, "CreateProcessA(--child-msg-client) (error %u)", (unsigned)GetLastError());
        CloseHandle(c);
        CloseHandle(s);
        return;
    }
    CHECK(CloseHandle(c), "the parent closes its copy of the client end right after the spawn");
    CHECK(read_message(s, "reply one", READ_WAIT_MS),
          "S61 the server reads the child's first message alone");
    CHECK(read_message(s, "reply two!", READ_WAIT_MS), "S61 then the second");
    CHECK(PeekNamedPipe(s, NULL, 0, NULL, NULL, NULL),
          "the connection is open while the child holds the client end");
    CHECK(write_message(s, "bye"), "the server writes \"bye\" to the child");
    finish(&pi, CHILD_WAIT_MS, "rule 3: the child used the inherited client end");
    n = 9;
    SetLastError(0);
    CHECK(!read_within(s, buf, sizeof buf, &n, EOF_WAIT_MS) && GetLastError() == ERROR_BROKEN_PIPE,
          "S80 after the child (the last client copy) exited: ReadFile -> ERROR_BROKEN_PIPE");
    SetLastError(0);
    CHECK(!WriteFile(s, "x", 1, &n, NULL) && GetLastError() == ERROR_NO_DATA,
          "S81 and WriteFile -> ERROR_NO_DATA");
    CloseHandle(s);
}

/* Rules 1 and 3: the child inherits a connected server instance. */
static void test_msg_server(void)
{
    HANDLE s, c;
    DWORD flags = 99, out = 0, in = 0, max = 0, n = 0, mode = PIPE_READMODE_MESSAGE;
    char buf[16];
    PROCESS_INFORMATION pi;
    s = CreateNamedPipeA(PIPE_SRV, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         512, 256, 0, &inheritable);
    c = CreateFileA(PIPE_SRV, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && connected(s)
              && SetNamedPipeHandleState(c, &mode, NULL, NULL),
          "S19 an inheritable message-pipe instance, connected to a message-mode client");
    CHECK(GetNamedPipeInfo(s, &flags, &out, &in, &max) && flags == (PIPE_SERVER_END | PIPE_TYPE_MESSAGE)
              && out == 512 && in == 256 && max == 1,
          "S105 S106 the parent's GetNamedPipeInfo of the instance");
    CHECK(write_message(c, "hello server") && write_message(c, "again"),
          "the client writes two messages before the spawn");
    if (!spawn(&pi, TRUE, NULL, "--child-msg-server %p %u %u %u %u", s, (unsigned)flags,
               (unsigned)out, (unsigned)in, (unsigned)max)) {
        CHECK(0, "CreateProcessA(--child-msg-server) (error %u)", (unsigned)GetLastError());
        CloseHandle(c);
        CloseHandle(s);
        return;
    }
    CHECK(CloseHandle(s), "the parent closes its copy of the instance right after the spawn");
    CHECK(read_message(c, "hello client", READ_WAIT_MS),
          "S61 the client reads the child's first message alone");
    CHECK(read_message(c, "2nd reply", READ_WAIT_MS), "S61 then the second");
    CHECK(PeekNamedPipe(c, NULL, 0, NULL, NULL, NULL),
          "the connection is open while the child holds the instance");
    CHECK(write_message(c, "bye"), "the client writes \"bye\" to the child");
    finish(&pi, CHILD_WAIT_MS, "rule 1 rule 3: the child used the inherited server instance");
    n = 9;
    SetLastError(0);
    CHECK(!read_within(c, buf, sizeof buf, &n, EOF_WAIT_MS) && GetLastError() == ERROR_BROKEN_PIPE,
          "S80 after the child (the last server copy) exited: ReadFile -> ERROR_BROKEN_PIPE");
    CloseHandle(c);
}

/* Answers two requests on the server end `param` with "reply: " +
 * request; returns how many it answered. */
static DWORD WINAPI serve_transactions(LPVOID param)
{
    HANDLE s = (HANDLE)param;
    char request[64], reply[80];
    DWORD n = 0, served = 0;
    for (int i = 0; i < 2; i++) {
        if (!read_within(s, request, sizeof request, &n, READ_WAIT_MS))
            break;
        memcpy(reply, "reply: ", 7);
        memcpy(reply + 7, request, n);
        if (!WriteFile(s, reply, n + 7, &n, NULL))
            break;
        served++;
    }
    return served;
}

/* Rule 3: TransactNamedPipe from the child against a thread here. */
static void test_transact(void)
{
    HANDLE s, c, t;
    DWORD code = 0;
    PROCESS_INFORMATION pi;
    s = CreateNamedPipeA(PIPE_TRANSACT, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                         1, 0, 0, 0, NULL);
    c = CreateFileA(PIPE_TRANSACT, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0,
                    NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && connected(s),
          "S19 a message pipe with an inheritable client end, connected");
    t = CreateThread(NULL, 0, serve_transactions, s, 0, NULL);
    CHECK(t != NULL, "a server thread");
    if (spawn(&pi, TRUE, NULL, "--child-transact %p", c)) {
        CloseHandle(c);
        finish(&pi, CHILD_WAIT_MS, "S112 S113 rule 3: the child transacted on the inherited client end");
    } else {
        CHECK(0, "CreateProcessA(--child-transact) (error %u)", (unsigned)GetLastError());
        CloseHandle(c);
    }
    if (t != NULL) {
        CHECK(WaitForSingleObject(t, 2 * READ_WAIT_MS + 5000) == WAIT_OBJECT_0
                  && GetExitCodeThread(t, &code) && code == 2,
              "the parent's server thread answered both requests (answered %u)", (unsigned)code);
        CloseHandle(t);
    }
    CloseHandle(s);
}

/* Rule 4: an inherited mailslot; the parent closes its copy. */
static void test_mailslot(void)
{
    HANDLE m, w1, w2;
    DWORD start;
    PROCESS_INFORMATION pi;
    m = CreateMailslotA(SLOT_READ, 0, 5000, &inheritable);
    w1 = CreateFileA(SLOT_READ, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(m != INVALID_HANDLE_VALUE && w1 != INVALID_HANDLE_VALUE,
          "S144 an inheritable mailslot, read timeout 5000 ms, and a writer");
    CHECK(write_message(w1, "one") && write_message(w1, "two!"),
          "the parent writes two messages before the spawn");
    if (!spawn(&pi, TRUE, NULL, "--child-slot %p", m)) {
        CHECK(0, "CreateProcessA(--child-slot) (error %u)", (unsigned)GetLastError());
        CloseHandle(w1);
        CloseHandle(m);
        return;
    }
    CHECK(CloseHandle(m), "the parent closes its mailslot handle right after the spawn");
    CHECK(wait_ack("ready"), "the child read the queued messages and says \"ready\"");
    w2 = CreateFileA(SLOT_READ, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(w2 != INVALID_HANDLE_VALUE,
          "S156 the name still exists while the child holds the mailslot: CreateFileA succeeds");
    CHECK(write_message(w2 != INVALID_HANDLE_VALUE ? w2 : w1, "three"),
          "the parent writes \"three\" for the child");
    finish(&pi, CHILD_WAIT_MS, "rule 4: the child read the inherited mailslot");
    CloseHandle(w1);
    if (w2 != INVALID_HANDLE_VALUE)
        CloseHandle(w2);
    /* Gone once no process holds it; allow the library a moment to notice. */
    start = GetTickCount();
    for (;;) {
        HANDLE again;
        SetLastError(0);
        again = CreateFileA(SLOT_READ, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
        if (again == INVALID_HANDLE_VALUE || GetTickCount() - start >= 2000) {
            CHECK(again == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND,
                  "S155 S156 after the child, the last holder, exited: CreateFileA -> "
                  "ERROR_FILE_NOT_FOUND");
            if (again != INVALID_HANDLE_VALUE)
                CloseHandle(again);
            break;
        }
        CloseHandle(again);
        Sleep(20);
    }
}

/* Rule 4: the timeout set by SetMailslotInfo before the spawn. */
static void test_mailslot_timeout(void)
{
    HANDLE m;
    PROCESS_INFORMATION pi;
    m = CreateMailslotA(SLOT_TIMEOUT, 0, 0, &inheritable);
    CHECK(m != INVALID_HANDLE_VALUE && SetMailslotInfo(m, 300),
          "S152 an inheritable mailslot created with timeout 0, then SetMailslotInfo(300)");
    DWORD timeout = 0;
    if (spawn(&pi, TRUE, NULL, "--child-slot-timeout %p 300", m))
        finish(&pi, CHILD_WAIT_MS, "S144 S152 the child reads with the timeout set before the spawn");
    else
        CHECK(0, "CreateProcessA(--child-slot-timeout) (error %u)", (unsigned)GetLastError());
    CHECK(GetMailslotInfo(m, NULL, NULL, NULL, &timeout) && timeout == 700,
          "S152 the child's SetMailslotInfo(700) applies to the parent's handle too (got %u)",
          (unsigned)timeout);
    CHECK(SetMailslotInfo(m, MAILSLOT_WAIT_FOREVER)
              && GetMailslotInfo(m, NULL, NULL, NULL, &timeout) && timeout == MAILSLOT_WAIT_FOREVER,
          "S144 MAILSLOT_WAIT_FOREVER round-trips on a shared mailslot");
    CloseHandle(m);
}

/* Rule 4: an inherited mailslot writer. */
static void test_mailslot_writer(void)
{
    HANDLE m, x;
    DWORD n = 0, count = 99;
    char buf[64];
    PROCESS_INFORMATION pi;
    m = CreateMailslotA(SLOT_WRITER, 0, 5000, NULL);
    x = CreateFileA(SLOT_WRITER, GENERIC_WRITE, FILE_SHARE_READ, &inheritable, OPEN_EXISTING, 0, NULL);
    CHECK(m != INVALID_HANDLE_VALUE && x != INVALID_HANDLE_VALUE,
          "a mailslot and an inheritable writer of it");
    if (spawn(&pi, TRUE, NULL, "--child-slot-writer %p", x))
        finish(&pi, CHILD_WAIT_MS, "S154 rule 4: the child wrote through the inherited writer");
    else
        CHECK(0, "CreateProcessA(--child-slot-writer) (error %u)", (unsigned)GetLastError());
    CHECK(ReadFile(m, buf, sizeof buf, &n, NULL) && n == 20 && memcmp(buf, "via inherited writer", 20) == 0,
          "S148 the parent reads the child's first message, whole");
    CHECK(ReadFile(m, buf, sizeof buf, &n, NULL) && n == 3 && memcmp(buf, "2nd", 3) == 0,
          "S148 then the second");
    CHECK(GetMailslotInfo(m, NULL, NULL, &count, NULL) && count == 0, "S151 and no more");
    CloseHandle(x);
    CloseHandle(m);
}

/* Rule 5: named-pipe handles as the child's standard input and output. */
static void test_std_handles(void)
{
    HANDLE so, co, si_, ci;
    char buf[16];
    DWORD n = 0;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    so = CreateNamedPipeA(PIPE_STDOUT, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                          1, 0, 0, 0, NULL);
    co = CreateFileA(PIPE_STDOUT, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0,
                     NULL);
    si_ = CreateNamedPipeA(PIPE_STDIN, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                           1, 0, 0, 0, NULL);
    ci = CreateFileA(PIPE_STDIN, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0,
                     NULL);
    CHECK(so != INVALID_HANDLE_VALUE && co != INVALID_HANDLE_VALUE && connected(so)
              && si_ != INVALID_HANDLE_VALUE && ci != INVALID_HANDLE_VALUE && connected(si_),
          "two message pipes with inheritable client ends, connected");
    CHECK(write_message(si_, "in one") && write_message(si_, "in two"),
          "two messages for the child's standard input");
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = ci;
    si.hStdOutput = co;
    /* The child's check lines go to its stderr: this process's stdout. */
    si.hStdError = GetStdHandle(STD_OUTPUT_HANDLE);
    if (!spawn(&pi, TRUE, &si, "--child-stdio %p %p", ci, co)) {
        CHECK(0, "CreateProcessA(--child-stdio) (error %u)", (unsigned)GetLastError());
        CloseHandle(ci);
        CloseHandle(co);
        CloseHandle(si_);
        CloseHandle(so);
        return;
    }
    CHECK(CloseHandle(ci) && CloseHandle(co), "the parent closes its copies of the client ends");
    CHECK(read_message(so, "out one", READ_WAIT_MS),
          "S61 rule 5: the child's first write to its standard output is one message");
    CHECK(read_message(so, "out two!", READ_WAIT_MS), "S61 rule 5: then the second");
    finish(&pi, CHILD_WAIT_MS, "rule 5: hStdInput/hStdOutput named-pipe handles in the child");
    SetLastError(0);
    CHECK(!read_within(so, buf, sizeof buf, &n, EOF_WAIT_MS) && GetLastError() == ERROR_BROKEN_PIPE,
          "S80 after the child exited: ReadFile -> ERROR_BROKEN_PIPE");
    CloseHandle(si_);
    CloseHandle(so);
}

/* Rule 6: child to grandchild. */
static void test_transitive(void)
{
    HANDLE r, w, s, c;
    char buf[16];
    DWORD n = 0;
    PROCESS_INFORMATION pi;
    CHECK(CreatePipe(&r, &w, &inheritable, 0), "S133 an inheritable anonymous pipe");
    s = CreateNamedPipeA(PIPE_GRAND, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                         0, 0, 0, NULL);
    c = CreateFileA(PIPE_GRAND, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0, NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && connected(s),
          "S19 a message pipe with an inheritable client end, connected");
    if (!spawn(&pi, TRUE, NULL, "--child-relay %p %p", w, c)) {
        CHECK(0, "CreateProcessA(--child-relay) (error %u)", (unsigned)GetLastError());
        CloseHandle(r);
        CloseHandle(w);
        CloseHandle(c);
        CloseHandle(s);
        return;
    }
    CHECK(CloseHandle(w) && CloseHandle(c), "the parent closes its copies");
    CHECK(read_message(r, "grandchild", 2 * READ_WAIT_MS),
          "S133 rule 6: the grandchild wrote to the anonymous pipe the parent created");
    CHECK(read_message(s, "from grandchild", 2 * READ_WAIT_MS),
          "S19 rule 6: the grandchild wrote a message to the named pipe the parent created");
    finish(&pi, CHILD_WAIT_MS + GRANDCHILD_WAIT_MS, "rule 6: child and grandchild");
    SetLastError(0);
    CHECK(!read_within(r, buf, sizeof buf, &n, EOF_WAIT_MS) && GetLastError() == ERROR_BROKEN_PIPE,
          "S135 every inherited write end closed (both exited): ReadFile -> ERROR_BROKEN_PIPE");
    SetLastError(0);
    CHECK(!read_within(s, buf, sizeof buf, &n, EOF_WAIT_MS) && GetLastError() == ERROR_BROKEN_PIPE,
          "S80 every client copy closed: the server's ReadFile -> ERROR_BROKEN_PIPE");
    CloseHandle(r);
    CloseHandle(s);
}

/* Reads everything from `h` until end of data (bounded), NUL-terminated. */
static DWORD read_all(HANDLE h, char *buf, DWORD size)
{
    DWORD total = 0, n = 0;
    while (total + 1 < size && read_within(h, buf + total, size - 1 - total, &n, READ_WAIT_MS))
        total += n;
    buf[total] = 0;
    return total;
}

/* Runs a program that does not use this library (`line`, through PATH)
 * with the given standard handles; waits for it (bounded). */
static BOOL run_plain(const char *line, HANDLE in, HANDLE out, const char *what)
{
    char command[256];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    DWORD w, code = 0xDEAD;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in;
    si.hStdOutput = out;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    snprintf(command, sizeof command, "%s", line);
    fflush(stdout);
    if (!CreateProcessA(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        CHECK(0, "%s: CreateProcessA (error %u)", what, (unsigned)GetLastError());
        return FALSE;
    }
    w = WaitForSingleObject(pi.hProcess, CHILD_WAIT_MS);
    if (w != WAIT_OBJECT_0)
        kill((pid_t)pi.dwProcessId, SIGKILL);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CHECK(w == WAIT_OBJECT_0 && code == 0, "%s: the program ran (exit code %u)", what,
          (unsigned)code);
    return w == WAIT_OBJECT_0 && code == 0;
}

/* A program not linked with this library cannot speak the pipe's framing:
 * its standard handles go through relays in the parent. */
static void test_plain_programs(void)
{
    HANDLE s, c, r, w, slot, writer;
    char buf[256];
    DWORD n = 0, next = 0, count = 0;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};

    /* Standard output into a byte pipe's client end. */
    s = CreateNamedPipeA(PIPE_PLAIN_OUT, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    c = CreateFileA(PIPE_PLAIN_OUT, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0,
                    NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && connected(s),
          "relay: a byte pipe with an inheritable client end");
    run_plain("sh -c \"echo hello; echo world\"", GetStdHandle(STD_INPUT_HANDLE), c,
              "relay: sh writing to a named pipe as its standard output");
    CloseHandle(c);
    read_all(s, buf, sizeof buf);
    CHECK(strcmp(buf, "hello\nworld\n") == 0,
          "relay: the server reads what sh wrote, then end of data (got \"%s\")", buf);
    CloseHandle(s);

    /* Standard input from a message pipe, standard output an anonymous pipe. */
    s = CreateNamedPipeA(PIPE_PLAIN_IN, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 1, 0, 0, 0, NULL);
    c = CreateFileA(PIPE_PLAIN_IN, GENERIC_READ | GENERIC_WRITE, 0, &inheritable, OPEN_EXISTING, 0,
                    NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && connected(s)
              && CreatePipe(&r, &w, &sa, 0),
          "relay: a message pipe with an inheritable client end, and an anonymous pipe");
    CHECK(write_message(s, "banana\n") && write_message(s, "apple\n"),
          "relay: two messages for the program's standard input");
    /* The server goes: after the two messages the program reads end of file. */
    CloseHandle(s);
    run_plain("sort", c, w, "relay: sort reading a named pipe as its standard input");
    CloseHandle(c);
    CloseHandle(w);
    read_all(r, buf, sizeof buf);
    CHECK(strcmp(buf, "apple\nbanana\n") == 0,
          "relay: sort read both messages and end of file (got \"%s\")", buf);
    CloseHandle(r);

    /* Standard output into a mailslot writer: one message per write. */
    slot = CreateMailslotA(SLOT_PLAIN, 0, READ_WAIT_MS, NULL);
    writer = CreateFileA(SLOT_PLAIN, GENERIC_WRITE, FILE_SHARE_READ, &inheritable, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL, NULL);
    CHECK(slot != INVALID_HANDLE_VALUE && writer != INVALID_HANDLE_VALUE,
          "relay: a mailslot and an inheritable writer");
    run_plain("echo announced", GetStdHandle(STD_INPUT_HANDLE), writer,
              "relay: echo writing to a mailslot as its standard output");
    CloseHandle(writer);
    n = 0;
    CHECK(ReadFile(slot, buf, sizeof buf - 1, &n, NULL) && n == 10 && memcmp(buf, "announced\n", 10) == 0,
          "relay: the mailslot received echo's line as one message");
    CHECK(GetMailslotInfo(slot, NULL, &next, &count, NULL) && count == 0,
          "relay: and nothing else");
    CloseHandle(slot);
}

int main(int argc, char **argv)
{
    log_out = stdout;
    self = argv[0];
    if (argc > 1 && strncmp(argv[1], "--child-", 8) == 0)
        return child_main(argc, argv);
    /* A last resort against a hang: no summary line, the test fails. */
    alarm(600);

    ack_slot = CreateMailslotA(SLOT_ACK, 0, READ_WAIT_MS, NULL);
    CHECK(ack_slot != INVALID_HANDLE_VALUE, "the parent's sync mailslot (not inherited)");

    test_kinds();
    test_listening_instance();
    test_anon();
    test_msg_client();
    test_msg_server();
    test_transact();
    test_mailslot();
    test_mailslot_timeout();
    test_mailslot_writer();
    test_std_handles();
    test_transitive();
    test_plain_programs();

    CloseHandle(ack_slot);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
