/* jsonr: a small JSON reader for the hessblock tool's own state files (run.json and the
 * per-block spectra of a resumable run). The whole document becomes a tree; numbers are
 * read with strtod in the C locale the tool keeps, so a number written with %.17g reads
 * back bit for bit. Not a general-purpose validator: it accepts RFC 8259 JSON and rejects
 * what it cannot read (with the byte offset). */
#ifndef HB_TOOL_JSONR_H
#define HB_TOOL_JSONR_H

#include <stddef.h>

typedef enum jr_type { JR_NULL, JR_BOOL, JR_NUMBER, JR_STRING, JR_ARRAY, JR_OBJECT } jr_type;

typedef struct jr_value {
    jr_type type;
    double number;             /* JR_NUMBER; JR_BOOL: 0 or 1 */
    char *string;              /* JR_STRING (NUL-terminated, escapes decoded) */
    size_t n;                  /* JR_ARRAY / JR_OBJECT: members */
    struct jr_value *items;    /* the members' values */
    char **keys;               /* JR_OBJECT: the members' names */
} jr_value;

/* Parses the file at path into *out. Returns 0, or -1 with a message in err (size nerr). */
int jr_parse_file(const char *path, jr_value *out, char *err, size_t nerr);
void jr_free(jr_value *v);
/* Member `key` of an object (NULL when absent or v is not an object). */
const jr_value *jr_get(const jr_value *v, const char *key);
/* The string of member `key`, or NULL when absent or not a string. */
const char *jr_get_string(const jr_value *v, const char *key);

#endif
