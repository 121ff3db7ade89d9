/* SrvrBcst.c -- the book's server broadcaster (Chapter 11), for pipeslot's
 * Win32 C API on Linux.
 *
 *     SrvrBcst [-p PIPE] [-m MAILSLOT] [-t CS_TIMEOUT_MS]
 *
 * Every CS_TIMEOUT ms, opens the locator mailslot MAILSLOT
 * (\\.\MAILSLOT\CLS_MAILSLOT); when a locating client (clientNP's
 * LocateServer, or the Rust `pipeslot client`) has created it, writes the
 * 268-byte announcement record naming PIPE (\\.\PIPE\SERVER). It lets
 * clients locate a server that does not broadcast by itself. Runs until
 * killed. serverNP has the same loop as its broadcast thread. */
#include "ClientServer.h"

int _tmain(int argc, LPTSTR argv[])
{
    CS_CONFIG config;
    MS_MESSAGE msNotify;
    DWORD nXfer;
    HANDLE hMsFile;

    GetConfig(&config, argc, argv, _T("Usage: SrvrBcst [-p PIPE] [-m MAILSLOT] [-t CS_TIMEOUT_MS]"));
    memset(&msNotify, 0, sizeof(msNotify));
    msNotify.msStatus = 0;
    msNotify.msUtilization = 0;
    CopyName(msNotify.msName, config.pipeName);
    _tprintf(_T("Broadcasting %s to %s every %u ms.\n"), config.pipeName, config.mailslotName,
             (unsigned)config.timeout);
    fflush(stdout);

    /* Open the mailslot for the MS "client" writer. */
    for (;;) {
        Sleep(config.timeout);
        hMsFile = CreateFile(config.mailslotName, GENERIC_WRITE, FILE_SHARE_READ, NULL,
                             OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
        if (hMsFile == INVALID_HANDLE_VALUE)
            continue; /* No client is locating a server. */
        /* Send out the message to the mailslot. */
        if (!WriteFile(hMsFile, &msNotify, MSM_SIZE, &nXfer, NULL))
            ReportError(_T("Server MS Write error."), 13, TRUE);
        else
            _tprintf(_T("Pipe name %s sent to %s.\n"), config.pipeName, config.mailslotName);
        fflush(stdout);
        CloseHandle(hMsFile);
    }
    return 0;
}
