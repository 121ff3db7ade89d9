/* serverNP.c -- the book's multi-threaded named-pipe command server
 * (Chapter 11, 4th edition: the broadcast thread of SrvrBcst is folded in),
 * for pipeslot's Win32 C API on Linux.
 *
 *     serverNP [-p PIPE] [-m MAILSLOT] [-t CS_TIMEOUT_MS] [-n INSTANCES]
 *
 * Creates INSTANCES (MAX_CLIENTS, 4) instances of the message pipe PIPE
 * (\\.\PIPE\SERVER), each served by a thread of its own: connect, read
 * request records, run each command with CreateProcessA (no shell; stdout
 * and stderr redirected to the thread's temp file), send the file back one
 * response record per line, then the end record. A broadcast thread writes
 * the pipe name to the locator mailslot MAILSLOT every CS_TIMEOUT ms while
 * a client has created it. `$ShutDownServer` from a client (which gets its
 * end record first) stops every thread: blocked pipe calls are cancelled
 * with CancelSynchronousIo. The wire records are pipeslot_proto::classic's,
 * so the Rust `pipeslot client` talks to this server as well. */
#include "ClientServer.h"

typedef struct {
    HANDLE hNamedPipe; /* Pipe instance for this thread. */
    DWORD threadNumber;
    TCHAR tempFileName[MAX_PATH];
} THREAD_ARG;

static volatile LONG ShutDown = 0;
static CS_CONFIG Config;

static BOOL IsShutDown(void)
{
    return __atomic_load_n(&ShutDown, __ATOMIC_SEQ_CST) != 0;
}

static BOOL SendEnd(HANDLE hNamedPipe)
{
    DWORD nXfer, end = 0;
    return WriteFile(hNamedPipe, &end, sizeof(end), &nXfer, NULL);
}

/* Runs one command with its output in the thread's temp file, and sends
   the file back line by line. FALSE if the client has gone. */
static BOOL RunCommand(HANDLE hNamedPipe, THREAD_ARG *arg, LPTSTR command)
{
    SECURITY_ATTRIBUTES tempSA = {sizeof(SECURITY_ATTRIBUTES), NULL, TRUE};
    STARTUPINFO startInfoCh;
    PROCESS_INFORMATION procInfo;
    RESPONSE response;
    DWORD nXfer;
    HANDLE hTmpFile;
    FILE *fp;
    BOOL ok = TRUE;

    memset(&startInfoCh, 0, sizeof(startInfoCh));
    startInfoCh.cb = sizeof(STARTUPINFO);
    hTmpFile = CreateFile(arg->tempFileName, GENERIC_READ | GENERIC_WRITE,
                          FILE_SHARE_READ | FILE_SHARE_WRITE, &tempSA, CREATE_ALWAYS,
                          FILE_ATTRIBUTE_TEMPORARY, NULL);
    if (hTmpFile == INVALID_HANDLE_VALUE) {
        ReportError(_T("Cannot create temp file."), 0, TRUE);
        return FALSE;
    }
    startInfoCh.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    startInfoCh.hStdOutput = hTmpFile;
    startInfoCh.hStdError = hTmpFile;
    startInfoCh.dwFlags = STARTF_USESTDHANDLES;
    if (!CreateProcess(NULL, command, NULL, NULL, TRUE, /* Inherit handles. */
                       0, NULL, NULL, &startInfoCh, &procInfo)) {
        CloseHandle(hTmpFile);
        memset(&response, 0, sizeof(response));
        _stprintf(response.record, _T("ERR: Cannot create process."));
        response.rsLen = (DWORD)_tcslen(response.record) + 1;
        return WriteFile(hNamedPipe, &response, RS_HEADER_LEN + response.rsLen, &nXfer, NULL)
               && SendEnd(hNamedPipe);
    }
    CloseHandle(hTmpFile);
    WaitForSingleObject(procInfo.hProcess, INFINITE);
    CloseHandle(procInfo.hProcess);

    /* Respond a line at a time. It is convenient to use C library line-
       oriented routines at this point. */
    fp = _tfopen(arg->tempFileName, _T("r"));
    if (fp != NULL) {
        while (ok && _fgetts(response.record, MAX_RQRS_LEN, fp) != NULL) {
            response.rsLen = (DWORD)_tcslen(response.record) + 1;
            ok = WriteFile(hNamedPipe, &response, RS_HEADER_LEN + response.rsLen, &nXfer, NULL);
        }
        fclose(fp);
    }
    /* End of response: a zero-length record. */
    return ok && SendEnd(hNamedPipe) && FlushFileBuffers(hNamedPipe);
}

static DWORD WINAPI Server(LPVOID pArg)
{
    THREAD_ARG *arg = (THREAD_ARG *)pArg;
    HANDLE hNamedPipe = arg->hNamedPipe;
    REQUEST request;
    DWORD nXfer;
    ULONG clientId;
    TCHAR clientName[MAX_PATH];

    while (!IsShutDown()) {
        if (!ConnectNamedPipe(hNamedPipe, NULL)) {
            DWORD error = GetLastError();
            if (error == ERROR_OPERATION_ABORTED)
                continue; /* Cancelled by the main thread: look at ShutDown. */
            if (error != ERROR_PIPE_CONNECTED) {
                /* ERROR_NO_DATA: a client came and went. */
                if (error != ERROR_NO_DATA)
                    ReportError(_T("ConnectNamedPipe failed."), 0, TRUE);
                DisconnectNamedPipe(hNamedPipe);
                continue;
            }
        }
        clientId = 0;
        GetNamedPipeClientProcessId(hNamedPipe, &clientId);
        if (!GetNamedPipeClientComputerName(hNamedPipe, clientName, MAX_PATH))
            _tcscpy(clientName, _T("localhost"));
        _tprintf(_T("Connect to client process id: %u on computer: %s\n"), (unsigned)clientId,
                 clientName);
        fflush(stdout);

        /* A client is connected: read requests until it leaves. */
        while (!IsShutDown()) {
            memset(&request, 0, sizeof(request));
            if (!ReadFile(hNamedPipe, &request, RQ_SIZE, &nXfer, NULL))
                break; /* The client has gone, or a cancel. */
            request.record[MAX_RQRS_LEN - 1] = _T('\0');
            _tprintf(_T("Command from client thread: %u. %s\n"), (unsigned)clientId,
                     request.record);
            fflush(stdout);
            if (_tcscmp(request.record, _T("$ShutDownServer")) == 0) {
                /* The client waits for the end of its response. */
                SendEnd(hNamedPipe);
                FlushFileBuffers(hNamedPipe);
                __atomic_store_n(&ShutDown, 1, __ATOMIC_SEQ_CST);
                break;
            }
            if (!RunCommand(hNamedPipe, arg, request.record))
                break;
        }
        /* Force the client to see the end of the connection. */
        if (!IsShutDown())
            FlushFileBuffers(hNamedPipe);
        DisconnectNamedPipe(hNamedPipe);
    }
    _tprintf(_T("Thread %u shutting down.\n"), (unsigned)arg->threadNumber);
    fflush(stdout);
    CloseHandle(hNamedPipe);
    DeleteFile(arg->tempFileName);
    return 0;
}

/* The broadcast thread (SrvrBcst): announce the pipe name on the locator
   mailslot every CS_TIMEOUT ms while a client has created it. */
static DWORD WINAPI ServerBroadcast(LPVOID pArg)
{
    MS_MESSAGE msNotify;
    DWORD nXfer, slept;
    HANDLE hMsFile;
    (void)pArg;

    memset(&msNotify, 0, sizeof(msNotify));
    msNotify.msStatus = 0;
    msNotify.msUtilization = 0;
    CopyName(msNotify.msName, Config.pipeName);
    while (!IsShutDown()) {
        /* Sleep in short slices so that a shutdown is seen soon. */
        for (slept = 0; slept < Config.timeout && !IsShutDown(); slept += 50)
            Sleep(Config.timeout - slept < 50 ? Config.timeout - slept : 50);
        if (IsShutDown())
            break;
        hMsFile = CreateFile(Config.mailslotName, GENERIC_WRITE, FILE_SHARE_READ, NULL,
                             OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
        if (hMsFile == INVALID_HANDLE_VALUE)
            continue; /* No client is locating a server. */
        if (!WriteFile(hMsFile, &msNotify, MSM_SIZE, &nXfer, NULL))
            ReportError(_T("Server MS Write error."), 0, TRUE);
        CloseHandle(hMsFile);
    }
    _tprintf(_T("Monitor thread has shut down.\n"));
    fflush(stdout);
    return 0;
}

int _tmain(int argc, LPTSTR argv[])
{
    static THREAD_ARG threadArgs[MAX_SERVER_TH];
    HANDLE hThreads[MAX_SERVER_TH], hMonitor;
    const char *tempDir = getenv("TMPDIR");
    DWORD i, poll;

    GetConfig(&Config, argc, argv,
              _T("Usage: serverNP [-p PIPE] [-m MAILSLOT] [-t CS_TIMEOUT_MS] [-n INSTANCES]"));
    if (tempDir == NULL || tempDir[0] == '\0')
        tempDir = "/tmp";

    /* Create the pipe instances and a temp file name for each. */
    for (i = 0; i < Config.instances; i++) {
        threadArgs[i].threadNumber = i;
        threadArgs[i].hNamedPipe =
            CreateNamedPipe(Config.pipeName, PIPE_ACCESS_DUPLEX,
                            PIPE_READMODE_MESSAGE | PIPE_TYPE_MESSAGE | PIPE_WAIT,
                            Config.instances, 0, 0, INFINITE, NULL);
        if (threadArgs[i].hNamedPipe == INVALID_HANDLE_VALUE)
            ReportError(_T("Failure to open named pipe."), 1, TRUE);
        if (GetTempFileName(tempDir, _T("CLP"), 0, threadArgs[i].tempFileName) == 0)
            ReportError(_T("Temp file failure."), 1, TRUE);
    }
    hMonitor = CreateThread(NULL, 0, ServerBroadcast, NULL, 0, NULL);
    if (hMonitor == NULL)
        ReportError(_T("Failure to create monitor thread."), 2, TRUE);
    for (i = 0; i < Config.instances; i++) {
        hThreads[i] = CreateThread(NULL, 0, Server, &threadArgs[i], 0, NULL);
        if (hThreads[i] == NULL)
            ReportError(_T("Failure to create server thread."), 2, TRUE);
    }
    _tprintf(_T("Server %s is running with %u instances; announcing it to %s every %u ms.\n"),
             Config.pipeName, (unsigned)Config.instances, Config.mailslotName,
             (unsigned)Config.timeout);
    fflush(stdout);

    /* Wait for the threads to end. Once ShutDown is set, cancel whatever
       blocking pipe call a thread is in (ConnectNamedPipe with no client,
       ReadFile from an idle client) until it has ended. */
    poll = Config.timeout < 100 ? Config.timeout : 100;
    for (i = 0; i < Config.instances; i++) {
        while (WaitForSingleObject(hThreads[i], poll) == WAIT_TIMEOUT) {
            if (IsShutDown())
                CancelSynchronousIo(hThreads[i]);
        }
        CloseHandle(hThreads[i]);
    }
    _tprintf(_T("All Server worker threads have shut down.\n"));
    WaitForSingleObject(hMonitor, INFINITE);
    CloseHandle(hMonitor);
    _tprintf(_T("Server process will exit.\n"));
    return 0;
}
