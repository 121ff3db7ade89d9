/* ovclient.c -- many overlapped clients at once, for the example servers
 * (examples/serverOV.c, serverCP.c): THREADS threads, each opening the pipe
 * with FILE_FLAG_OVERLAPPED and sending ROUNDS requests with overlapped
 * WriteFile/ReadFile and an event per OVERLAPPED, checking each echoed
 * line and end record (ClientServer.h's records). Half the threads close
 * and reopen the pipe between rounds, so instances are recycled.
 *
 * Usage: ovclient PIPE THREADS ROUNDS. Prints "ovclient: ok" and exits 0
 * when every answer was right. */
#include "../examples/ClientServer.h"

static LPCTSTR pipeName;
static int rounds;
static LONG failures = 0;

static BOOL Finish(HANDLE pipe, OVERLAPPED *ov, BOOL ok, DWORD *n)
{
    if (!ok && GetLastError() == ERROR_IO_PENDING) {
        if (WaitForSingleObject(ov->hEvent, 10000) != WAIT_OBJECT_0)
            return FALSE;
        ok = GetOverlappedResult(pipe, ov, n, FALSE);
    }
    return ok;
}

static HANDLE Open(void)
{
    DWORD mode = PIPE_READMODE_MESSAGE;
    for (;;) {
        HANDLE pipe = CreateFile(pipeName, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                                 FILE_FLAG_OVERLAPPED, NULL);
        if (pipe != INVALID_HANDLE_VALUE) {
            SetNamedPipeHandleState(pipe, &mode, NULL, NULL);
            return pipe;
        }
        if (GetLastError() != ERROR_PIPE_BUSY || !WaitNamedPipe(pipeName, 10000))
            return INVALID_HANDLE_VALUE;
    }
}

static DWORD WINAPI Client(LPVOID param)
{
    int id = (int)(intptr_t)param;
    OVERLAPPED ov;
    REQUEST request;
    RESPONSE response;
    HANDLE pipe = Open();
    memset(&ov, 0, sizeof ov);
    ov.hEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
    for (int r = 0; r < rounds && pipe != INVALID_HANDLE_VALUE; r++) {
        DWORD n = 0;
        char want[64];
        memset(&request, 0, sizeof request);
        request.rqLen = RQ_SIZE;
        snprintf(request.record, sizeof request.record, "client %d round %d", id, r);
        snprintf(want, sizeof want, "client %d round %d\n", id, r);
        if (!Finish(pipe, &ov, WriteFile(pipe, &request, RQ_SIZE, &n, &ov), &n) || n != RQ_SIZE)
            break;
        memset(&response, 0, sizeof response);
        if (!Finish(pipe, &ov, ReadFile(pipe, &response, RS_SIZE, &n, &ov), &n)
            || strcmp(response.record, want) != 0)
            break;
        if (!Finish(pipe, &ov, ReadFile(pipe, &response, RS_SIZE, &n, &ov), &n) || response.rsLen != 0)
            break;
        if (r == rounds - 1) {
            CloseHandle(ov.hEvent);
            CloseHandle(pipe);
            return 0;
        }
        if (id % 2 == 1) {
            CloseHandle(pipe);
            pipe = Open();
        }
    }
    _ftprintf(stderr, _T("ovclient: client %d failed (error %u)\n"), id, (unsigned)GetLastError());
    InterlockedIncrement(&failures);
    if (pipe != INVALID_HANDLE_VALUE)
        CloseHandle(pipe);
    CloseHandle(ov.hEvent);
    return 1;
}

int _tmain(int argc, LPTSTR argv[])
{
    HANDLE threads[MAXIMUM_WAIT_OBJECTS];
    int count;
    (void)GetConfig; /* ClientServer.h's; the arguments here are positional */
    if (argc != 4)
        ReportError(_T("Usage: ovclient PIPE THREADS ROUNDS"), 1, FALSE);
    pipeName = argv[1];
    count = _ttoi(argv[2]);
    rounds = _ttoi(argv[3]);
    if (count < 1 || count > MAXIMUM_WAIT_OBJECTS || rounds < 1)
        ReportError(_T("Usage: ovclient PIPE THREADS ROUNDS"), 1, FALSE);
    for (int i = 0; i < count; i++)
        threads[i] = CreateThread(NULL, 0, Client, (LPVOID)(intptr_t)i, 0, NULL);
    WaitForMultipleObjects((DWORD)count, threads, TRUE, INFINITE);
    if (failures != 0)
        return 1;
    _tprintf(_T("ovclient: ok\n"));
    return 0;
}
