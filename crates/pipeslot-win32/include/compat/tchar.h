/*
 * compat/tchar.h -- the <tchar.h> names of the classic Win32 programs,
 * mapped to the char functions (TCHAR is char: ANSI builds only).
 */
#ifndef PIPESLOT_COMPAT_TCHAR_H
#define PIPESLOT_COMPAT_TCHAR_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif /* PIPESLOT_COMPAT_TCHAR_H */
