/* serverOV.c -- an overlapped, event-driven named-pipe server: ONE thread
 * serves N pipe instances, each with its own OVERLAPPED and manual-reset
 * event, by waiting on all the events with WaitForMultipleObjects, the way
 * Windows servers are written (the "overlapped server" of the Win32
 * documentation).
 *
 * It speaks the records of ClientServer.h, so the book's clientNP talks to
 * it unchanged: every request is answered with one response record, the
 * request's command echoed as a line, then the end record. The request
 * "$ShutDownServer" stops the server once its answer went out.
 *
 * Usage: serverOV [-p PIPE] [-n INSTANCES] (ClientServer.h's GetConfig).
 *
 * Each instance is a little state machine: CONNECTING -> READING ->
 * WRITING_LINE -> WRITING_END -> READING ... A call that completes at once
 * still sets its event (S160), so every transition happens in the loop; a
 * failed call (the client went: ERROR_BROKEN_PIPE) makes the instance
 * disconnect and listen again. */
#include "ClientServer.h"

enum state { CONNECTING, READING, WRITING_LINE, WRITING_END };

typedef struct {
    OVERLAPPED ov;
    HANDLE pipe;
    enum state state;
    REQUEST request;
    RESPONSE response;
} INSTANCE;

static INSTANCE instances[MAXIMUM_WAIT_OBJECTS];
static HANDLE events[MAXIMUM_WAIT_OBJECTS];
static BOOL shutDown = FALSE;
static LONG served = 0;

static void Listen(INSTANCE *inst);

/* Starts an overlapped call's aftermath: TRUE or ERROR_IO_PENDING leave
   the event to report; anything else ends the client. */
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

/* Disconnects the client (if any) and listens for the next one. */
static void Listen(INSTANCE *inst)
{
    DisconnectNamedPipe(inst->pipe);
    inst->state = CONNECTING;
    if (ConnectNamedPipe(inst->pipe, &inst->ov))
        return;
    switch (GetLastError()) {
    case ERROR_IO_PENDING:
        return;
    case ERROR_PIPE_CONNECTED:
        /* The client came first: no completion will come (S45). */
        SetEvent(inst->ov.hEvent);
        return;
    default:
        ReportError(_T("ConnectNamedPipe failed."), 4, TRUE);
    }
}

/* The operation of `inst` completed: the next step. */
static void Advance(INSTANCE *inst, BOOL ok)
{
    DWORD len;
    if (!ok && !(inst->state == CONNECTING && GetLastError() == ERROR_PIPE_CONNECTED)) {
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
        if (_tcscmp(inst->request.record, _T("$ShutDownServer")) == 0) {
            shutDown = TRUE;
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
        StartRead(inst);
        break;
    }
}

int _tmain(int argc, LPTSTR argv[])
{
    CS_CONFIG config;
    DWORD i, n;
    GetConfig(&config, argc, argv, _T("Usage: serverOV [-p PIPE] [-n INSTANCES]"));
    for (i = 0; i < config.instances; i++) {
        INSTANCE *inst = &instances[i];
        inst->pipe = CreateNamedPipe(config.pipeName, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                     PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                     config.instances, 0, 0, INFINITE, NULL);
        if (inst->pipe == INVALID_HANDLE_VALUE)
            ReportError(_T("CreateNamedPipe failed."), 1, TRUE);
        events[i] = CreateEvent(NULL, TRUE, FALSE, NULL);
        if (events[i] == NULL)
            ReportError(_T("CreateEvent failed."), 2, TRUE);
        inst->ov.hEvent = events[i];
        Listen(inst);
    }
    _tprintf(_T("serverOV: %u overlapped instances of %s are running\n"),
             (unsigned)config.instances, config.pipeName);
    fflush(stdout);

    while (!shutDown) {
        DWORD signaled = WaitForMultipleObjects(config.instances, events, FALSE, INFINITE);
        INSTANCE *inst;
        BOOL ok;
        if (signaled == WAIT_FAILED || signaled >= WAIT_OBJECT_0 + config.instances)
            ReportError(_T("WaitForMultipleObjects failed."), 3, TRUE);
        inst = &instances[signaled - WAIT_OBJECT_0];
        ok = GetOverlappedResult(inst->pipe, &inst->ov, &n, FALSE);
        /* A connect reported through SetEvent has no result to fetch. */
        if (!ok && inst->state == CONNECTING && GetLastError() == ERROR_IO_INCOMPLETE)
            ok = TRUE;
        ResetEvent(inst->ov.hEvent);
        Advance(inst, ok);
    }
    /* The answer to $ShutDownServer is out once its write completed. */
    for (i = 0; i < config.instances; i++) {
        if (instances[i].state == WRITING_END)
            GetOverlappedResult(instances[i].pipe, &instances[i].ov, &n, TRUE);
        CloseHandle(instances[i].pipe);
        CloseHandle(events[i]);
    }
    _tprintf(_T("serverOV: %ld requests served. Server process will exit.\n"), (long)served);
    return 0;
}
