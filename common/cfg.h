/*
 * cfg.h - the INI-style configuration file shared by agent and receiver.
 *
 * Syntax (documented for admins in rcptsync.conf(5)):
 *   # comment          ; comment        (whole lines only)
 *   [section]          [section name]   (e.g. [relay mx1], [signer corp])
 *   key = value        (value runs to end of line, spaces around trimmed;
 *                       a key may repeat: cfg_get_n/cfg_nth read all)
 * Keys and section types are [a-z0-9_-]+; a section name is [A-Za-z0-9._-]+.
 * Values are UTF-8; control characters are an error.  Lines may end in CRLF
 * (config files are edited with Notepad on Windows).
 *
 * Unknown keys are not detected here; each program validates its sections
 * with cfg_check_keys() so that a typo is an error, not a silent default.
 *
 * The cfg owns all strings it returns.  Parse errors give a line number and
 * a static reason.
 */
#ifndef RS_CFG_H
#define RS_CFG_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct cfg_section;

int	cfg_parse(const char *text, size_t len, struct cfg **out,
	    size_t *errline, const char **why);
void	cfg_free(struct cfg *c);

/* Sections in file order; type "relay" matches [relay mx1], [relay mx2]. */
size_t	cfg_count(const struct cfg *c, const char *type);
const struct cfg_section *cfg_section(const struct cfg *c, const char *type,
	    size_t idx);
const char *cfg_section_name(const struct cfg_section *s); /* "" if none */
size_t	cfg_section_line(const struct cfg_section *s);

/* Last value of key in s, or NULL.  s may be NULL (returns NULL). */
const char *cfg_get(const struct cfg_section *s, const char *key);
size_t	cfg_get_n(const struct cfg_section *s, const char *key);
const char *cfg_nth(const struct cfg_section *s, const char *key, size_t i);
size_t	cfg_key_line(const struct cfg_section *s, const char *key);

/*
 * Typed getters: absent key -> *v = def, RS_OK.  Bad value ->
 * RS_ERR_SYNTAX, *v untouched.
 *   bool: yes/no/true/false/on/off/1/0
 *   uint: decimal, within [min, max]
 *   duration: "90", "90s", "5m", "1h", "1d" -> seconds
 *   size: "512", "64k", "16M", "1G" -> bytes
 *   percent: "10" or "10%" -> 0..100
 */
int	cfg_bool(const struct cfg_section *s, const char *key, int def, int *v);
int	cfg_uint(const struct cfg_section *s, const char *key, uint64_t def,
	    uint64_t min, uint64_t max, uint64_t *v);
int	cfg_duration(const struct cfg_section *s, const char *key,
	    uint64_t def, uint64_t *v);
int	cfg_size(const struct cfg_section *s, const char *key, uint64_t def,
	    uint64_t *v);
int	cfg_percent(const struct cfg_section *s, const char *key, unsigned def,
	    unsigned *v);

/*
 * Is every key of s in the NULL-terminated list allowed?  On failure returns
 * RS_ERR_SYNTAX and sets *bad to the first unknown key.
 */
int	cfg_check_keys(const struct cfg_section *s, const char *const *allowed,
	    const char **bad);
/* Section types must be in allowed; *bad set to the first that is not. */
int	cfg_check_sections(const struct cfg *c, const char *const *allowed,
	    const char **bad);

/* Split a value on spaces and commas into words: for domain lists. */
int	cfg_words(const char *value, char ***words, size_t *n);
void	cfg_words_free(char **words, size_t n);

#endif /* RS_CFG_H */
