/*
 * compat/tchar.h -- the <tchar.h> names of the classic Win32 programs.
 *
 * ANSI builds (the default): TCHAR is char and the names map to the C
 * library's char functions.
 *
 * _UNICODE builds: TCHAR is WCHAR (UTF-16, 16 bits). Build with
 *     -D_UNICODE -DUNICODE -fshort-wchar
 * so that L"..." literals (what _T() makes) are WCHAR strings; the C
 * library's wide functions assume a 32-bit wchar_t, so the names map to
 * the UTF-16 functions below instead (string functions, and stdio through
 * UTF-8: _tprintf's %s takes a TCHAR string, %hs a char string, %c a
 * TCHAR). _tmain is wmain, and this header supplies the program's main,
 * which converts argv from UTF-8 to UTF-16, as winegcc's -municode does:
 * a program of several files defines PIPESLOT_NO_MAIN in all but the one
 * with _tmain. Not mapped under _UNICODE: _tscanf, _stscanf, _tcstok,
 * _vtprintf and _vftprintf.
 */
#ifndef PIPESLOT_COMPAT_TCHAR_H
#define PIPESLOT_COMPAT_TCHAR_H

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _UNICODE
#include <pipeslot/win32.h>
#include <pipeslot/tchar16.h>
#else

#define _T(x) x
#define _TEXT(x) x
#define TEXT(x) x
#define _tmain main
#define _tprintf printf
#define _ftprintf fprintf
#define _stprintf sprintf
#define _sntprintf snprintf
#define _vtprintf vprintf
#define _vftprintf vfprintf
#define _tscanf scanf
#define _stscanf sscanf
#define _tcscmp strcmp
#define _tcsncmp strncmp
#define _tcslen strlen
#define _tcscpy strcpy
#define _tcsncpy strncpy
#define _tcscat strcat
#define _tcsncat strncat
#define _tcschr strchr
#define _tcsrchr strrchr
#define _tcsstr strstr
#define _tcstok strtok
#define _ttoi atoi
#define _tstoi atoi
#define _fgetts fgets
#define _fputts fputs
#define _puttchar putchar
#define _gettchar getchar
#define _tfopen fopen
#define _tperror perror
#define _istspace(c) isspace((unsigned char)(c))
#define _istdigit(c) isdigit((unsigned char)(c))

#endif /* _UNICODE */

#endif /* PIPESLOT_COMPAT_TCHAR_H */
