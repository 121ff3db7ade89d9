/* tokio_client.c -- a small Win32 client of the async (pipeslot::tokio)
 * server in tests/tokio_interop.rs, on a message pipe:
 *
 *     tokio_client PIPE ID
 *
 * waits for a free instance (WaitNamedPipeA, then CreateFileA, again on
 * ERROR_PIPE_BUSY), switches to message-read mode and checks what the
 * server answers: each request is answered by "LEN:REVERSED" (the request's
 * length in decimal, a colon, its bytes reversed). One line per check; the
 * last line is "N passed, M failed". */
#include <windows.h>

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    fflush(stdout);
    if (ok)
        passed++;
    else
        failed++;
}

#define CHECK(cond, what) check((cond) ? 1 : 0, what)

/* What the server answers to `request` of `len` bytes, into `out`. */
static DWORD answer(const char *request, DWORD len, char *out)
{
    DWORD n = (DWORD)sprintf(out, "%u:", (unsigned)len), i;
    for (i = 0; i < len; i++)
        out[n + i] = request[len - 1 - i];
    return n + len;
}

static int finish(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    HANDLE pipe = INVALID_HANDLE_VALUE;
    DWORD mode = PIPE_READMODE_MESSAGE, n = 0, flags = 0, expectedLen;
    char request[64], reply[128], expected[128];
    static char big[100000], bigReply[100064], bigExpected[100064];
    DWORD i;

    if (argc != 3) {
        fprintf(stderr, "usage: tokio_client PIPE ID\n");
        return 2;
    }
    while (pipe == INVALID_HANDLE_VALUE) {
        if (!WaitNamedPipeA(argv[1], NMPWAIT_WAIT_FOREVER)) {
            check(0, "WaitNamedPipeA");
            return finish();
        }
        pipe = CreateFileA(argv[1], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, NULL);
        if (pipe == INVALID_HANDLE_VALUE && GetLastError() != ERROR_PIPE_BUSY) {
            check(0, "CreateFileA");
            return finish();
        }
    }
    check(1, "CreateFileA opened an instance of the async server");
    CHECK(SetNamedPipeHandleState(pipe, &mode, NULL, NULL), "SetNamedPipeHandleState message mode");
    CHECK(GetNamedPipeInfo(pipe, &flags, NULL, NULL, NULL) && flags == PIPE_TYPE_MESSAGE,
          "GetNamedPipeInfo: client end of a message pipe");

    /* WriteFile, then ReadFile of the whole reply. */
    sprintf(request, "hello from C client %s", argv[2]);
    CHECK(WriteFile(pipe, request, (DWORD)strlen(request), &n, NULL) && n == strlen(request),
          "WriteFile of a request");
    expectedLen = answer(request, (DWORD)strlen(request), expected);
    memset(reply, 0, sizeof reply);
    CHECK(ReadFile(pipe, reply, sizeof reply, &n, NULL) && n == expectedLen
              && memcmp(reply, expected, n) == 0,
          "ReadFile of the reply, whole");

    /* A reply longer than the buffer: FALSE + ERROR_MORE_DATA, then the rest. */
    strcpy(request, "abcdefghij");
    CHECK(WriteFile(pipe, request, 10, &n, NULL), "WriteFile of a 10-byte request");
    CHECK(!ReadFile(pipe, reply, 5, &n, NULL) && GetLastError() == ERROR_MORE_DATA && n == 5
              && memcmp(reply, "10:ji", 5) == 0,
          "ReadFile of 5 bytes of a 13-byte reply: ERROR_MORE_DATA");
    CHECK(ReadFile(pipe, reply, sizeof reply, &n, NULL) && n == 8
              && memcmp(reply, "hgfedcba", 8) == 0,
          "ReadFile of the rest of the reply");

    /* TransactNamedPipe. */
    CHECK(TransactNamedPipe(pipe, "transact", 8, reply, sizeof reply, &n, NULL) && n == 10
              && memcmp(reply, "8:tcasnart", 10) == 0,
          "TransactNamedPipe");
    /* A zero-byte message is a message. */
    CHECK(WriteFile(pipe, request, 0, &n, NULL) && n == 0, "WriteFile of 0 bytes");
    CHECK(ReadFile(pipe, reply, sizeof reply, &n, NULL) && n == 2 && memcmp(reply, "0:", 2) == 0,
          "the async server answered the empty message");

    /* A message beyond the quota: WriteFile waits for the async reader. */
    for (i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + (i * 7 + (DWORD)atoi(argv[2])) % 26);
    CHECK(WriteFile(pipe, big, sizeof big, &n, NULL) && n == sizeof big,
          "WriteFile of 100000 bytes");
    CHECK(FlushFileBuffers(pipe), "FlushFileBuffers: the server read everything");
    expectedLen = answer(big, sizeof big, bigExpected);
    CHECK(ReadFile(pipe, bigReply, sizeof bigReply, &n, NULL) && n == expectedLen
              && memcmp(bigReply, bigExpected, n) == 0,
          "ReadFile of the 100007-byte reply");

    CHECK(CloseHandle(pipe), "CloseHandle");
    return finish();
}
