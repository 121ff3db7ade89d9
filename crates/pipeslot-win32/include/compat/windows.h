/*
 * compat/windows.h -- lets a Win32 program's `#include <windows.h>` build on
 * Linux against libpipeslot_win32. Only what pipeslot/win32.h declares
 * exists; see the list of what is not yet provided at the top of it.
 * TCHAR is char (ANSI), so the unsuffixed names map to the A functions;
 * with _UNICODE defined (and -fshort-wchar) they map to the W functions.
 */
#ifndef PIPESLOT_COMPAT_WINDOWS_H
#define PIPESLOT_COMPAT_WINDOWS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipeslot/win32.h>

#ifdef _UNICODE
/* _UNICODE (and -fshort-wchar, see compat/tchar.h): the W functions. */
#define CreateProcess CreateProcessW
#define CreateFile CreateFileW
#define CreateNamedPipe CreateNamedPipeW
#define CallNamedPipe CallNamedPipeW
#define WaitNamedPipe WaitNamedPipeW
#define GetNamedPipeHandleState GetNamedPipeHandleStateW
#define GetNamedPipeClientComputerName GetNamedPipeClientComputerNameW
#define CreateMailslot CreateMailslotW
#define FormatMessage FormatMessageW
#define CreateEvent CreateEventW
#define DeleteFile DeleteFileW
#define GetTempFileName GetTempFileNameW
#define GetComputerName GetComputerNameW
typedef STARTUPINFOW STARTUPINFO;
typedef LPSTARTUPINFOW LPSTARTUPINFO;
#else
#define CreateProcess CreateProcessA
#define CreateFile CreateFileA
#define CreateNamedPipe CreateNamedPipeA
#define CallNamedPipe CallNamedPipeA
#define WaitNamedPipe WaitNamedPipeA
#define GetNamedPipeHandleState GetNamedPipeHandleStateA
#define GetNamedPipeClientComputerName GetNamedPipeClientComputerNameA
#define CreateMailslot CreateMailslotA
#define FormatMessage FormatMessageA
#define CreateEvent CreateEventA
#define DeleteFile DeleteFileA
#define GetTempFileName GetTempFileNameA
#define GetComputerName GetComputerNameA
typedef STARTUPINFOA STARTUPINFO;
typedef LPSTARTUPINFOA LPSTARTUPINFO;
#endif

#endif /* PIPESLOT_COMPAT_WINDOWS_H */
