/* ClientServer.h -- the book's definitions shared by serverNP, clientNP
 * and SrvrBcst (Chapter 11), for pipeslot's Win32 C API on Linux.
 *
 * The records are the wire format of pipeslot_proto::classic, which the
 * Rust `pipeslot server`/`client`/`bcast` speak too:
 *   request  -- 4100 bytes: DWORD length (4100), then the command,
 *               NUL-terminated and zero-padded to 4096 bytes;
 *   response -- one message per output line: DWORD length (line bytes + 1),
 *               the line with its newline, then NUL; the end of a response
 *               is a message whose length is 0 (or 1: an empty line);
 *   mailslot -- 268 bytes: DWORD status 0, DWORD utilization 0, the pipe
 *               name NUL-padded to MAX_PATH (260) bytes.
 *
 * The book's defaults can be overridden so that tests use unique names:
 *   -p PIPE  -m MAILSLOT  -t CS_TIMEOUT_MS  (-n INSTANCES, server only)
 * or the environment variables SERVER_PIPE, MS_CLTNAME, CS_TIMEOUT. */
#ifndef CLIENTSERVER_H
#define CLIENTSERVER_H

#include <windows.h>
#include <tchar.h>

#define MAX_RQRS_LEN 4096
#define MAX_CLIENTS 4
#define MAX_SERVER_TH 64
#define CS_TIMEOUT 5000
#define SERVER_PIPE _T("\\\\.\\PIPE\\SERVER")
#define MS_SRVNAME _T("\\\\.\\MAILSLOT\\CLS_MAILSLOT")
#define MS_CLTNAME _T("\\\\.\\MAILSLOT\\CLS_MAILSLOT")

typedef struct {
    DWORD rqLen; /* Total length of request, not including this field. */
    TCHAR record[MAX_RQRS_LEN];
} REQUEST;

typedef struct {
    DWORD rsLen; /* Total length of response, not including this field. */
    TCHAR record[MAX_RQRS_LEN];
} RESPONSE;

#define RQ_SIZE sizeof(REQUEST)
#define RQ_HEADER_LEN RQ_SIZE - MAX_RQRS_LEN
#define RS_SIZE sizeof(RESPONSE)
#define RS_HEADER_LEN RS_SIZE - MAX_RQRS_LEN

typedef struct {
    DWORD msStatus;
    DWORD msUtilization;
    TCHAR msName[MAX_PATH];
} MS_MESSAGE;

#define MSM_SIZE sizeof(MS_MESSAGE)

/* The names and limits in force: the book's defaults, then the environment,
   then argv. */
typedef struct {
    TCHAR pipeName[MAX_PATH];
    TCHAR mailslotName[MAX_PATH];
    DWORD timeout;
    DWORD instances;
    BOOL pipeGiven;
} CS_CONFIG;

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

static void CopyName(TCHAR *to, LPCTSTR from)
{
    _tcsncpy(to, from, MAX_PATH - 1);
    to[MAX_PATH - 1] = _T('\0');
}

static void GetConfig(CS_CONFIG *config, int argc, LPTSTR argv[], LPCTSTR usage)
{
    const char *value;
    int i;
    CopyName(config->pipeName, SERVER_PIPE);
    CopyName(config->mailslotName, MS_CLTNAME);
    config->timeout = CS_TIMEOUT;
    config->instances = MAX_CLIENTS;
    config->pipeGiven = FALSE;
    if ((value = getenv("SERVER_PIPE")) != NULL && value[0] != '\0') {
        CopyName(config->pipeName, value);
        config->pipeGiven = TRUE;
    }
    if ((value = getenv("MS_CLTNAME")) != NULL && value[0] != '\0')
        CopyName(config->mailslotName, value);
    if ((value = getenv("CS_TIMEOUT")) != NULL && _ttoi(value) > 0)
        config->timeout = (DWORD)_ttoi(value);
    for (i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            ReportError(usage, 1, FALSE);
        if (_tcscmp(argv[i], _T("-p")) == 0) {
            CopyName(config->pipeName, argv[i + 1]);
            config->pipeGiven = TRUE;
        } else if (_tcscmp(argv[i], _T("-m")) == 0) {
            CopyName(config->mailslotName, argv[i + 1]);
        } else if (_tcscmp(argv[i], _T("-t")) == 0 && _ttoi(argv[i + 1]) > 0) {
            config->timeout = (DWORD)_ttoi(argv[i + 1]);
        } else if (_tcscmp(argv[i], _T("-n")) == 0 && _ttoi(argv[i + 1]) > 0
                   && _ttoi(argv[i + 1]) <= MAX_SERVER_TH) {
            config->instances = (DWORD)_ttoi(argv[i + 1]);
        } else {
            ReportError(usage, 1, FALSE);
        }
    }
}

#endif /* CLIENTSERVER_H */
