/* redirect.c -- the book's pipe/Redirect program (Chapter 11), for
 * pipeslot's Win32 C API on Linux.
 *
 *     redirect command1 [args] = command2 [args]
 *
 * runs command1 with its standard output redirected into an anonymous
 * pipe, and command2 with its standard input taken from that pipe, like
 * `command1 | command2`, with no shell. The original takes its command
 * lines from GetCommandLine(), which pipeslot does not provide yet; this
 * version rebuilds them from argv, quoting arguments with blanks. */
#include <windows.h>
#include <tchar.h>

static void ReportError(LPCTSTR message, DWORD exitCode, BOOL printErrorMessage)
{
    DWORD error = GetLastError();
    LPTSTR systemMessage = NULL;
    _ftprintf(stderr, _T("%s\n"), message);
    if (printErrorMessage) {
        if (FormatMessage(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM
                              | FORMAT_MESSAGE_IGNORE_INSERTS,
                          NULL, error, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT),
                          (LPTSTR)&systemMessage, 0, NULL) > 0) {
            _ftprintf(stderr, _T("%s"), systemMessage);
            LocalFree(systemMessage);
        } else {
            _ftprintf(stderr, _T("Last Error Number; %u.\n"), (unsigned)error);
        }
    }
    if (exitCode > 0)
        ExitProcess(exitCode);
}

/* Joins argv[first..last) into one Windows command line. */
static void JoinCommand(TCHAR *line, size_t size, int first, int last, TCHAR *argv[])
{
    line[0] = _T('\0');
    for (int i = first; i < last; i++) {
        BOOL quote = _tcschr(argv[i], _T(' ')) != NULL || argv[i][0] == _T('\0');
        size_t used = _tcslen(line);
        snprintf(line + used, size - used, quote ? "%s\"%s\"" : "%s%s",
                 i > first ? _T(" ") : _T(""), argv[i]);
    }
}

int _tmain(int argc, LPTSTR argv[])
{
    DWORD i;
    HANDLE hReadPipe, hWritePipe;
    TCHAR command1[MAX_PATH * 4], command2[MAX_PATH * 4];
    SECURITY_ATTRIBUTES pipeSA = {sizeof(SECURITY_ATTRIBUTES), NULL, TRUE};
    PROCESS_INFORMATION procInfo1, procInfo2;
    STARTUPINFO startInfoCh1, startInfoCh2;

    memset(&startInfoCh1, 0, sizeof(startInfoCh1));
    memset(&startInfoCh2, 0, sizeof(startInfoCh2));
    startInfoCh1.cb = startInfoCh2.cb = sizeof(STARTUPINFO);

    for (i = 1; i < (DWORD)argc && _tcscmp(argv[i], _T("=")) != 0; i++)
        ;
    if (i == 1 || i >= (DWORD)argc - 1)
        ReportError(_T("Usage: redirect command1 [args] = command2 [args]"), 1, FALSE);
    JoinCommand(command1, sizeof(command1), 1, (int)i, argv);
    JoinCommand(command2, sizeof(command2), (int)i + 1, argc, argv);

    /* Create an anonymous pipe with default size. The handles are inheritable. */
    if (!CreatePipe(&hReadPipe, &hWritePipe, &pipeSA, 0))
        ReportError(_T("Anon pipe create failed."), 3, TRUE);

    /* Set the output handle to the inheritable pipe handle, and create the
       first process. */
    startInfoCh1.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    startInfoCh1.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    startInfoCh1.hStdOutput = hWritePipe;
    startInfoCh1.dwFlags = STARTF_USESTDHANDLES;
    if (!CreateProcess(NULL, command1, NULL, NULL, TRUE, /* Inherit handles. */
                       0, NULL, NULL, &startInfoCh1, &procInfo1))
        ReportError(_T("CreateProc1 failed."), 4, TRUE);
    CloseHandle(hWritePipe);

    /* Repeat (symmetrically) for the second process. */
    startInfoCh2.hStdInput = hReadPipe;
    startInfoCh2.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    startInfoCh2.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    startInfoCh2.dwFlags = STARTF_USESTDHANDLES;
    if (!CreateProcess(NULL, command2, NULL, NULL, TRUE, /* Inherit handles. */
                       0, NULL, NULL, &startInfoCh2, &procInfo2))
        ReportError(_T("CreateProc2 failed."), 5, TRUE);
    CloseHandle(hReadPipe);

    /* Wait for both processes to complete. */
    WaitForSingleObject(procInfo1.hProcess, INFINITE);
    WaitForSingleObject(procInfo2.hProcess, INFINITE);
    CloseHandle(procInfo1.hProcess);
    CloseHandle(procInfo2.hProcess);
    return 0;
}
