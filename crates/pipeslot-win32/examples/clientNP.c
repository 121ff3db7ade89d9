/* clientNP.c -- the book's named-pipe command client (Chapter 11), for
 * pipeslot's Win32 C API on Linux.
 *
 *     clientNP [-p PIPE] [-m MAILSLOT] [-t CS_TIMEOUT_MS]
 *
 * Without -p (or SERVER_PIPE), LocateServer finds the server's pipe name
 * through the locator mailslot MAILSLOT (\\.\MAILSLOT\CLS_MAILSLOT), which
 * a server's broadcast thread (or SrvrBcst) writes to. Then it waits for a
 * free instance (WaitNamedPipe), opens it, sets message read mode and
 * reads commands from stdin: each is sent as a request record and the
 * response records are printed until the end record. `$Quit` or the end
 * of stdin ends the client; `$ShutDownServer` stops the server. The wire
 * records are pipeslot_proto::classic's, so this client talks to the Rust
 * `pipeslot server` as well. */
#include "ClientServer.h"

/* Reads the locator mailslot until a server announces its pipe name. */
static void LocateServer(LPCTSTR mailslotName, DWORD timeout, LPTSTR pipeName)
{
    HANDLE hMailslot;
    MS_MESSAGE serverMsg;
    DWORD nRead;

    for (;;) {
        hMailslot = CreateMailslot(mailslotName, MSM_SIZE, timeout, NULL);
        if (hMailslot != INVALID_HANDLE_VALUE)
            break;
        if (GetLastError() != ERROR_ALREADY_EXISTS)
            ReportError(_T("MS create error."), 11, TRUE);
        Sleep(50); /* Another client is locating: try again shortly. */
    }
    for (;;) {
        _tprintf(_T("Looking for a server.\n"));
        fflush(stdout);
        memset(&serverMsg, 0, sizeof(serverMsg));
        if (!ReadFile(hMailslot, &serverMsg, MSM_SIZE, &nRead, NULL)) {
            if (GetLastError() == ERROR_SEM_TIMEOUT)
                continue;
            ReportError(_T("MS read error."), 11, TRUE);
        }
        serverMsg.msName[MAX_PATH - 1] = _T('\0');
        if (nRead == MSM_SIZE && serverMsg.msStatus == 0 && serverMsg.msName[0] != _T('\0'))
            break;
    }
    CloseHandle(hMailslot);
    CopyName(pipeName, serverMsg.msName);
    _tprintf(_T("Server has been located. Pipe Name: %s.\n"), pipeName);
}

int _tmain(int argc, LPTSTR argv[])
{
    HANDLE hNamedPipe = INVALID_HANDLE_VALUE;
    CS_CONFIG config;
    TCHAR promptMsg[] = _T("\nEnter Command: ");
    TCHAR quitMsg[] = _T("$Quit");
    REQUEST request;
    RESPONSE response;
    DWORD nRead, nWrite, npMode = PIPE_READMODE_MESSAGE | PIPE_WAIT;
    size_t len;

    GetConfig(&config, argc, argv, _T("Usage: clientNP [-p PIPE] [-m MAILSLOT] [-t CS_TIMEOUT_MS]"));
    if (!config.pipeGiven)
        LocateServer(config.mailslotName, config.timeout, config.pipeName);

    /* Obtain a handle to a named pipe instance. */
    while (hNamedPipe == INVALID_HANDLE_VALUE) {
        if (!WaitNamedPipe(config.pipeName, NMPWAIT_WAIT_FOREVER)) {
            if (GetLastError() == ERROR_SEM_TIMEOUT)
                continue;
            ReportError(_T("WaitNamedPipe error."), 2, TRUE);
        }
        hNamedPipe = CreateFile(config.pipeName, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                                OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
        if (hNamedPipe == INVALID_HANDLE_VALUE && GetLastError() != ERROR_PIPE_BUSY)
            ReportError(_T("Failure to locate server."), 3, TRUE);
    }
    /* Read the named pipe in message mode. */
    if (!SetNamedPipeHandleState(hNamedPipe, &npMode, NULL, NULL))
        ReportError(_T("SetNamedPipeHandleState error."), 2, TRUE);

    /* Prompt the user for commands. Terminate on "$Quit" or end of input. */
    for (;;) {
        _tprintf(_T("%s"), promptMsg);
        fflush(stdout);
        memset(&request, 0, sizeof(request));
        if (_fgetts(request.record, MAX_RQRS_LEN - 1, stdin) == NULL)
            break;
        len = _tcslen(request.record);
        if (len > 0 && request.record[len - 1] == _T('\n'))
            request.record[--len] = _T('\0');
        if (len > 0 && request.record[len - 1] == _T('\r'))
            request.record[--len] = _T('\0');
        if (_tcscmp(request.record, quitMsg) == 0)
            break;
        request.rqLen = RQ_SIZE;
        if (!WriteFile(hNamedPipe, &request, RQ_SIZE, &nWrite, NULL))
            ReportError(_T("Write NP failed."), 1, TRUE);

        /* Read each response and send it to std out; the end record has a
           length of 0 (or 1: an empty line, as older servers send it). */
        for (;;) {
            memset(&response, 0, sizeof(response));
            if (!ReadFile(hNamedPipe, &response, RS_SIZE, &nRead, NULL))
                ReportError(_T("Read NP failed."), 1, TRUE);
            if (nRead < RS_HEADER_LEN)
                ReportError(_T("Bad response from the server."), 1, FALSE);
            response.record[MAX_RQRS_LEN - 1] = _T('\0');
            if (response.rsLen <= 1)
                break;
            _tprintf(_T("%s"), response.record);
        }
    }
    _tprintf(_T("Quit command received. Disconnect.\n"));
    CloseHandle(hNamedPipe);
    return 0;
}
