/*
 * pipeslot/tchar16.h -- the UTF-16 TCHAR functions of compat/tchar.h's
 * _UNICODE builds (static inline; see compat/tchar.h for the flags).
 * Strings are WCHAR (16 bits); stdio goes through UTF-8. Invalid UTF-16
 * (a lone surrogate) becomes U+FFFD on output.
 */
#ifndef PIPESLOT_TCHAR16_H
#define PIPESLOT_TCHAR16_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pipeslot/win32.h>

_Static_assert(sizeof(L' ') == sizeof(WCHAR),
               "_UNICODE programs are built with -fshort-wchar (L\"...\" must be WCHAR)");

/* ---- Conversions ---------------------------------------------------- */

/* UTF-8 of a WCHAR string (malloc'd; NULL gives NULL). */
static inline char *pipeslot_utf8(const WCHAR *text)
{
    size_t n = 0, i, o = 0;
    char *out;
    if (text == NULL)
        return NULL;
    while (text[n])
        n++;
    out = (char *)malloc(n * 3 + 1);
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned long c = text[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && text[i + 1] >= 0xDC00 && text[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (text[i + 1] - 0xDC00);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        if (c < 0x80) {
            out[o++] = (char)c;
        } else if (c < 0x800) {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[o++] = (char)(0xE0 | (c >> 12));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (c >> 18));
            out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = 0;
    return out;
}

/* UTF-16 of UTF-8 `text` into `out` of `size` WCHARs (NUL included, cut
   to fit); returns the WCHARs stored without the NUL. Bad bytes: U+FFFD. */
static inline size_t pipeslot_utf16(const char *text, WCHAR *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t o = 0;
    if (size == 0)
        return 0;
    while (*p && o + 1 < size) {
        unsigned long c = *p++;
        int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        if (c >= 0x80 && more == 0) {
            c = 0xFFFD;
        } else if (more) {
            c &= 0x3F >> more;
            while (more-- > 0) {
                if ((*p & 0xC0) != 0x80) {
                    c = 0xFFFD;
                    break;
                }
                c = (c << 6) | (*p++ & 0x3F);
            }
        }
        if (c >= 0x10000 && c <= 0x10FFFF) {
            if (o + 2 >= size)
                break;
            c -= 0x10000;
            out[o++] = (WCHAR)(0xD800 + (c >> 10));
            out[o++] = (WCHAR)(0xDC00 + (c & 0x3FF));
        } else {
            out[o++] = (WCHAR)(c > 0xFFFF ? 0xFFFD : c);
        }
    }
    out[o] = 0;
    return o;
}

/* ---- Strings -------------------------------------------------------- */

static inline size_t pipeslot_wcslen(const WCHAR *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
static inline int pipeslot_wcsncmp(const WCHAR *a, const WCHAR *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
        if (a[i] == 0)
            return 0;
    }
    return 0;
}
static inline int pipeslot_wcscmp(const WCHAR *a, const WCHAR *b)
{
    return pipeslot_wcsncmp(a, b, (size_t)-1);
}
static inline WCHAR *pipeslot_wcsncpy(WCHAR *d, const WCHAR *s, size_t n)
{
    size_t i = 0;
    for (; i < n && s[i]; i++)
        d[i] = s[i];
    for (; i < n; i++)
        d[i] = 0;
    return d;
}
static inline WCHAR *pipeslot_wcscpy(WCHAR *d, const WCHAR *s)
{
    size_t i = 0;
    do
        d[i] = s[i];
    while (s[i++]);
    return d;
}
static inline WCHAR *pipeslot_wcscat(WCHAR *d, const WCHAR *s)
{
    pipeslot_wcscpy(d + pipeslot_wcslen(d), s);
    return d;
}
static inline WCHAR *pipeslot_wcsncat(WCHAR *d, const WCHAR *s, size_t n)
{
    size_t at = pipeslot_wcslen(d), i = 0;
    for (; i < n && s[i]; i++)
        d[at + i] = s[i];
    d[at + i] = 0;
    return d;
}
static inline WCHAR *pipeslot_wcschr(const WCHAR *s, int c)
{
    for (;; s++) {
        if (*s == (WCHAR)c)
            return (WCHAR *)s;
        if (*s == 0)
            return NULL;
    }
}
static inline WCHAR *pipeslot_wcsrchr(const WCHAR *s, int c)
{
    const WCHAR *last = NULL;
    for (;; s++) {
        if (*s == (WCHAR)c)
            last = s;
        if (*s == 0)
            return (WCHAR *)last;
    }
}
static inline WCHAR *pipeslot_wcsstr(const WCHAR *s, const WCHAR *find)
{
    size_t n = pipeslot_wcslen(find);
    for (; *s; s++)
        if (pipeslot_wcsncmp(s, find, n) == 0)
            return (WCHAR *)s;
    return n == 0 ? (WCHAR *)s : NULL;
}
static inline int pipeslot_wtoi(const WCHAR *s)
{
    char *text = pipeslot_utf8(s);
    int value = text ? atoi(text) : 0;
    free(text);
    return value;
}

/* ---- stdio through UTF-8 -------------------------------------------- */

/* Formats a TCHAR format (see compat/tchar.h) into a malloc'd UTF-8
   string. */
static inline char *pipeslot_vformat(const WCHAR *format, va_list args)
{
    char *text = NULL, *fmt = pipeslot_utf8(format);
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    const char *p = fmt;
    if (out == NULL || fmt == NULL) {
        free(fmt);
        if (out)
            fclose(out);
        return NULL;
    }
    while (*p) {
        /* spec: '%', flags, width and precision (no length modifier). */
        char spec[64], full[72];
        size_t n = 0;
        int longs = 0, shorts = 0, sized = 0;
        char conversion;
        if (*p != '%') {
            fputc(*p++, out);
            continue;
        }
        spec[n++] = *p++;
        while (*p && strchr("-+ #0123456789.*", *p) && n < sizeof spec - 12) {
            if (*p == '*') {
                n += (size_t)snprintf(spec + n, sizeof spec - n, "%d", va_arg(args, int));
                p++;
            } else {
                spec[n++] = *p++;
            }
        }
        spec[n] = 0;
        while (*p && strchr("hlzjtL", *p)) {
            if (*p == 'l')
                longs++;
            else if (*p == 'h')
                shorts++;
            else
                sized = 1;
            p++;
        }
        if (*p == 0)
            break;
        conversion = *p++;
        switch (conversion) {
        case '%':
            fputc('%', out);
            break;
        case 's':
        case 'S': {
            /* %s: a TCHAR string; %hs (and %S): a char string. */
            snprintf(full, sizeof full, "%ss", spec);
            if (shorts || conversion == 'S') {
                fprintf(out, full, va_arg(args, const char *));
            } else {
                char *plain = pipeslot_utf8(va_arg(args, const WCHAR *));
                fprintf(out, full, plain ? plain : "(null)");
                free(plain);
            }
            break;
        }
        case 'c': {
            WCHAR one[2];
            char *plain;
            one[0] = (WCHAR)va_arg(args, int);
            one[1] = 0;
            plain = pipeslot_utf8(one);
            snprintf(full, sizeof full, "%ss", spec);
            fprintf(out, full, plain ? plain : "");
            free(plain);
            break;
        }
        case 'd':
        case 'i':
        case 'o':
        case 'u':
        case 'x':
        case 'X':
            snprintf(full, sizeof full, "%s%s%c", spec,
                     longs >= 2 ? "ll" : longs == 1 ? "l" : sized ? "z" : "", conversion);
            if (longs >= 2)
                fprintf(out, full, va_arg(args, long long));
            else if (longs == 1)
                fprintf(out, full, va_arg(args, long));
            else if (sized)
                fprintf(out, full, va_arg(args, size_t));
            else
                fprintf(out, full, va_arg(args, int));
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            snprintf(full, sizeof full, "%s%c", spec, conversion);
            fprintf(out, full, va_arg(args, double));
            break;
        case 'p':
            snprintf(full, sizeof full, "%sp", spec);
            fprintf(out, full, va_arg(args, void *));
            break;
        default:
            break;
        }
    }
    free(fmt);
    fclose(out);
    return text;
}

static inline int pipeslot_vfwprintf(FILE *stream, const WCHAR *format, va_list args)
{
    char *text = pipeslot_vformat(format, args);
    int n;
    if (text == NULL)
        return -1;
    n = fputs(text, stream) < 0 ? -1 : (int)strlen(text);
    free(text);
    return n;
}
static inline int pipeslot_fwprintf(FILE *stream, const WCHAR *format, ...)
{
    va_list args;
    int n;
    va_start(args, format);
    n = pipeslot_vfwprintf(stream, format, args);
    va_end(args);
    return n;
}
static inline int pipeslot_wprintf(const WCHAR *format, ...)
{
    va_list args;
    int n;
    va_start(args, format);
    n = pipeslot_vfwprintf(stdout, format, args);
    va_end(args);
    return n;
}
/* _sntprintf: at most `size` WCHARs, NUL included; returns the WCHARs
   stored without the NUL. */
static inline int pipeslot_snwprintf(WCHAR *buffer, size_t size, const WCHAR *format, ...)
{
    va_list args;
    char *text;
    size_t n;
    va_start(args, format);
    text = pipeslot_vformat(format, args);
    va_end(args);
    if (text == NULL)
        return -1;
    n = pipeslot_utf16(text, buffer, size);
    free(text);
    return (int)n;
}
/* _stprintf: as sprintf, the buffer is assumed big enough. */
static inline int pipeslot_swprintf(WCHAR *buffer, const WCHAR *format, ...)
{
    va_list args;
    char *text;
    size_t n;
    va_start(args, format);
    text = pipeslot_vformat(format, args);
    va_end(args);
    if (text == NULL)
        return -1;
    n = pipeslot_utf16(text, buffer, strlen(text) + 1);
    free(text);
    return (int)n;
}
static inline WCHAR *pipeslot_fgetws(WCHAR *buffer, int size, FILE *stream)
{
    char *line;
    if (size <= 0)
        return NULL;
    line = (char *)malloc((size_t)size * 3 + 1);
    if (line == NULL || fgets(line, size, stream) == NULL) {
        free(line);
        return NULL;
    }
    pipeslot_utf16(line, buffer, (size_t)size);
    free(line);
    return buffer;
}
static inline int pipeslot_fputws(const WCHAR *text, FILE *stream)
{
    char *plain = pipeslot_utf8(text);
    int result = plain ? fputs(plain, stream) : EOF;
    free(plain);
    return result;
}
static inline FILE *pipeslot_wfopen(const WCHAR *name, const WCHAR *mode)
{
    char *n = pipeslot_utf8(name), *m = pipeslot_utf8(mode);
    FILE *f = (n && m) ? fopen(n, m) : NULL;
    free(n);
    free(m);
    return f;
}
static inline void pipeslot_wperror(const WCHAR *text)
{
    char *plain = pipeslot_utf8(text);
    perror(plain);
    free(plain);
}

#define _T(x) L##x
#define _TEXT(x) L##x
#define TEXT(x) L##x
#define _tmain wmain
#define _tprintf pipeslot_wprintf
#define _ftprintf pipeslot_fwprintf
#define _stprintf pipeslot_swprintf
#define _sntprintf pipeslot_snwprintf
#define _tcscmp pipeslot_wcscmp
#define _tcsncmp pipeslot_wcsncmp
#define _tcslen pipeslot_wcslen
#define _tcscpy pipeslot_wcscpy
#define _tcsncpy pipeslot_wcsncpy
#define _tcscat pipeslot_wcscat
#define _tcsncat pipeslot_wcsncat
#define _tcschr pipeslot_wcschr
#define _tcsrchr pipeslot_wcsrchr
#define _tcsstr pipeslot_wcsstr
#define _ttoi pipeslot_wtoi
#define _tstoi pipeslot_wtoi
#define _fgetts pipeslot_fgetws
#define _fputts pipeslot_fputws
#define _puttchar(c) pipeslot_fwprintf(stdout, L"%c", (c))
#define _tfopen pipeslot_wfopen
#define _tperror pipeslot_wperror
#define _istspace(c) ((c) < 128 && isspace((int)(c)))
#define _istdigit(c) ((c) < 128 && isdigit((int)(c)))

int wmain(int argc, WCHAR *argv[]);

#ifndef PIPESLOT_NO_MAIN
/* The program's main: argv as UTF-16, then wmain (_tmain). */
int main(int argc, char *argv[])
{
    WCHAR **wide = (WCHAR **)calloc((size_t)argc + 1, sizeof(WCHAR *));
    if (wide == NULL)
        return 1;
    for (int i = 0; i < argc; i++) {
        size_t size = strlen(argv[i]) + 1;
        wide[i] = (WCHAR *)malloc(size * sizeof(WCHAR));
        if (wide[i] == NULL)
            return 1;
        pipeslot_utf16(argv[i], wide[i], size);
    }
    return wmain(argc, wide);
}
#endif

#endif /* PIPESLOT_TCHAR16_H */
