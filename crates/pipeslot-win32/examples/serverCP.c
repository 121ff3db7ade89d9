/* serverCP.c -- a named-pipe server on an I/O completion port with a pool
 * of threads, the way scalable Windows servers are written: N overlapped
 * pipe instances are bound to one port, with the instance as the
 * completion key, and a few threads take completion packets
 * (GetQueuedCompletionStatus) and move whichever instance completed to its
 * next step. Each instance has one operation under way at a time, so one
 * thread at a time handles it and the instances need no lock.
 *
 * It speaks the records of ClientServer.h, as serverOV.c does: each
 * request is answered with the command echoed as one line, then the end
 * record; "$ShutDownServer" stops the server once its answer went out (a
 * posted packet per pool thread tells them to end).
 *
 * Usage: serverCP [-p PIPE] [-n INSTANCES] (ClientServer.h's GetConfig). */
#include "ClientServer.h"

#define POOL_THREADS 4

enum state { CONNECTING, READING, WRITING_LINE, WRITING_END };

typedef struct {
    OVERLAPPED ov;
    HANDLE pipe;
    enum state state;
    BOOL last;
    REQUEST request;
    RESPONSE response;
} INSTANCE;

static INSTANCE instances[MAX_SERVER_TH];
static HANDLE port;
static LONG served = 0;
static LONG stopping = 0;

static void Listen(INSTANCE *inst);

/* The aftermath of starting a call: TRUE and ERROR_IO_PENDING both queue
   a packet (S160); a failure queues none (S162), so the instance is
   handled here: the client is gone. */
static void Started(INSTANCE *inst, BOOL ok)
{
    if (ok || GetLastError() == ERROR_IO_PENDING)
        return;
    Listen(inst);
}

static void StartRead(INSTANCE *inst)
{
    inst->state = READING;
    Started(inst, ReadFile(inst->pipe, &inst->request, RQ_SIZE, NULL, &inst->ov));
}

static void StartWrite(INSTANCE *inst, enum state state, DWORD size)
{
    inst->state = state;
    Started(inst, WriteFile(inst->pipe, &inst->response, size, NULL, &inst->ov));
}

static void Listen(INSTANCE *inst)
{
    DisconnectNamedPipe(inst->pipe);
    inst->state = CONNECTING;
    if (ConnectNamedPipe(inst->pipe, &inst->ov) || GetLastError() == ERROR_IO_PENDING)
        return;
    if (GetLastError() == ERROR_PIPE_CONNECTED) {
        /* The client came first: no packet will come (S45); post one. */
        PostQueuedCompletionStatus(port, 0, (ULONG_PTR)inst, &inst->ov);
        return;
    }
    ReportError(_T("ConnectNamedPipe failed."), 4, TRUE);
}

static void Advance(INSTANCE *inst, BOOL ok)
{
    DWORD len;
    if (!ok) {
        Listen(inst);
        return;
    }
    switch (inst->state) {
    case CONNECTING:
        StartRead(inst);
        break;
    case READING:
        inst->request.record[MAX_RQRS_LEN - 1] = 0;
        InterlockedIncrement(&served);
        inst->last = _tcscmp(inst->request.record, _T("$ShutDownServer")) == 0;
        if (inst->last) {
            inst->response.rsLen = 0;
            StartWrite(inst, WRITING_END, RS_HEADER_LEN);
            break;
        }
        len = (DWORD)_tcslen(inst->request.record);
        memcpy(inst->response.record, inst->request.record, len);
        inst->response.record[len] = _T('\n');
        inst->response.record[len + 1] = 0;
        inst->response.rsLen = len + 2;
        StartWrite(inst, WRITING_LINE, RS_HEADER_LEN + inst->response.rsLen);
        break;
    case WRITING_LINE:
        inst->response.rsLen = 0;
        StartWrite(inst, WRITING_END, RS_HEADER_LEN);
        break;
    case WRITING_END:
        if (inst->last && InterlockedCompareExchange(&stopping, 1, 0) == 0) {
            /* The answer went out: every pool thread gets a quit packet. */
            for (int i = 0; i < POOL_THREADS; i++)
                PostQueuedCompletionStatus(port, 0, 0, NULL);
            break;
        }
        StartRead(inst);
        break;
    }
}

static DWORD WINAPI PoolThread(LPVOID unused)
{
    (void)unused;
    for (;;) {
        DWORD n = 0;
        ULONG_PTR key = 0;
        LPOVERLAPPED ov = NULL;
        BOOL ok = GetQueuedCompletionStatus(port, &n, &key, &ov, INFINITE);
        if (key == 0 && ov == NULL)
            return 0; /* a quit packet, or the port is gone */
        Advance((INSTANCE *)key, ok);
    }
}

int _tmain(int argc, LPTSTR argv[])
{
    CS_CONFIG config;
    HANDLE threads[POOL_THREADS];
    DWORD i;
    GetConfig(&config, argc, argv, _T("Usage: serverCP [-p PIPE] [-n INSTANCES]"));
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, POOL_THREADS);
    if (port == NULL)
        ReportError(_T("CreateIoCompletionPort failed."), 1, TRUE);
    for (i = 0; i < config.instances; i++) {
        INSTANCE *inst = &instances[i];
        inst->pipe = CreateNamedPipe(config.pipeName, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                     PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                     config.instances, 0, 0, INFINITE, NULL);
        if (inst->pipe == INVALID_HANDLE_VALUE)
            ReportError(_T("CreateNamedPipe failed."), 1, TRUE);
        if (CreateIoCompletionPort(inst->pipe, port, (ULONG_PTR)inst, 0) != port)
            ReportError(_T("Binding an instance to the port failed."), 2, TRUE);
    }
    for (i = 0; i < POOL_THREADS; i++) {
        threads[i] = CreateThread(NULL, 0, PoolThread, NULL, 0, NULL);
        if (threads[i] == NULL)
            ReportError(_T("CreateThread failed."), 3, TRUE);
    }
    /* Listen once the pool runs: a client may already be waiting. */
    for (i = 0; i < config.instances; i++)
        Listen(&instances[i]);
    _tprintf(_T("serverCP: %u instances on a completion port with %d threads of %s are running\n"),
             (unsigned)config.instances, POOL_THREADS, config.pipeName);
    fflush(stdout);

    WaitForMultipleObjects(POOL_THREADS, threads, TRUE, INFINITE);
    for (i = 0; i < POOL_THREADS; i++)
        CloseHandle(threads[i]);
    for (i = 0; i < config.instances; i++)
        CloseHandle(instances[i].pipe);
    CloseHandle(port);
    _tprintf(_T("serverCP: %ld requests served. Server process will exit.\n"), (long)served);
    return 0;
}
