/* unicode.c -- a _UNICODE program (built with -D_UNICODE -DUNICODE
 * -fshort-wchar, tests/c_programs.rs): TCHAR is WCHAR, _tmain gets argv
 * in UTF-16 from the main compat/tchar.h supplies, and the unsuffixed
 * Win32 names are the W functions. One line per check, the last one
 * "N passed, M failed", printed with _tprintf. Run with the argument
 * "h\xc3\xa9llo" (UTF-8); re-runs itself with --exit. */
#include <windows.h>
#include <tchar.h>

static int passed, failed;

static void check(int ok, LPCTSTR what)
{
    _tprintf(_T("%s: %s\n"), ok ? _T("ok  ") : _T("FAIL"), what);
    if (ok)
        passed++;
    else
        failed++;
}

#define CHECK(cond, what) check((cond) ? 1 : 0, _T(what))

int _tmain(int argc, LPTSTR argv[])
{
    TCHAR buf[256], command[512];
    char bytes[64];
    HANDLE s, c;
    DWORD n = 0, code = 0;
    STARTUPINFO si;
    PROCESS_INFORMATION pi;

    if (argc > 2 && _tcscmp(argv[1], _T("--exit")) == 0)
        ExitProcess((UINT)_ttoi(argv[2]));

    CHECK(sizeof(TCHAR) == 2 && sizeof(_T("ab")) == 3 * sizeof(TCHAR), "TCHAR and _T() literals are 16-bit");
    CHECK(argc == 2 && _tcslen(argv[1]) == 5 && argv[1][1] == 0x00E9,
          "_tmain's argv is UTF-16 (h\\u00e9llo: 5 WCHARs)");
    _stprintf(buf, _T("%s=%d %c %5.1f %hs|%-4s|%ld %x %3d%%"), _T("x"), 42, _T('\u00e9'), 3.14159, "narrow",
              _T("ab"), 1234567L, 255, 7);
    CHECK(_tcscmp(buf, _T("x=42 \u00e9   3.1 narrow|ab  |1234567 ff   7%")) == 0,
          "_stprintf: %s TCHAR, %hs char, %c TCHAR, numbers");
    _tcscpy(buf, _T("pipe"));
    _tcscat(buf, _T("slot"));
    CHECK(_tcscmp(buf, _T("pipeslot")) == 0 && _tcslen(buf) == 8 && _tcschr(buf, _T('s')) == buf + 4
              && _tcsrchr(buf, _T('p')) == buf + 2 && _tcsstr(buf, _T("slot")) == buf + 4
              && _ttoi(_T("123")) == 123 && _tcsncmp(buf, _T("pipX"), 3) == 0,
          "_tcscpy, _tcscat, _tcscmp, _tcslen, _tcschr, _tcsrchr, _tcsstr, _ttoi, _tcsncmp");
    CHECK(_sntprintf(buf, 4, _T("%s"), _T("abcdef")) == 3 && _tcscmp(buf, _T("abc")) == 0,
          "_sntprintf cuts to the buffer");

    s = CreateNamedPipe(_T("\\\\.\\pipe\\unicode\\caf\u00e9"), PIPE_ACCESS_DUPLEX, 0, 1, 512, 512, 0, NULL);
    c = CreateFile(_T("\\\\.\\pipe\\unicode\\caf\u00e9"), GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0,
                   NULL);
    CHECK(s != INVALID_HANDLE_VALUE && c != INVALID_HANDLE_VALUE && WriteFile(c, "w", 1, &n, NULL)
              && ReadFile(s, bytes, sizeof bytes, &n, NULL) && n == 1,
          "CreateNamedPipe and CreateFile are the W functions, with a non-ASCII name");
    c = CreateFileA("\\\\.\\pipe\\unicode\\caf\xc3\xa9", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(c == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PIPE_BUSY,
          "the UTF-8 A name is the same pipe (busy: its one instance is taken)");
    CloseHandle(s);

    CHECK(FormatMessage(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, ERROR_BROKEN_PIPE, 0, buf,
                        256, NULL) > 0
              && _tcsstr(buf, _T("pipe")) != NULL,
          "FormatMessage is FormatMessageW");

    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    _sntprintf(command, 512, _T("\"%s\" --exit 3"), argv[0]);
    CHECK(CreateProcess(NULL, command, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)
              && WaitForSingleObject(pi.hProcess, 10000) == WAIT_OBJECT_0
              && GetExitCodeProcess(pi.hProcess, &code) && code == 3,
          "CreateProcess (CreateProcessW, STARTUPINFOW) with a TCHAR command line");

    _tprintf(_T("%d passed, %d failed\n"), passed, failed);
    return failed == 0 ? 0 : 1;
}
