/*
 * rs_limits.h - every size and count limit of rcptsync, in one place.
 *
 * Untrusted input (bundles, signatures, directory values, config files) is
 * checked against these.  Code never repeats the numbers; it names them.
 * Where a limit is also a configuration setting, this is its default and
 * RS_MAX_* is the ceiling the setting cannot exceed.
 */
#ifndef RS_LIMITS_H
#define RS_LIMITS_H

/* Addresses (docs/FORMAT.md section 3; RFC 5321 4.5.3.1). */
#define RS_MAX_ADDR_LEN		254
#define RS_MAX_LOCAL_LEN	64
#define RS_MAX_DOMAIN_LEN	253
#define RS_MAX_LABEL_LEN	63

/* Agent ids double as file name parts and signer principals. */
#define RS_MAX_AGENT_ID		64

/*
 * Bundle header.  A header line must hold the domains: field with
 * RS_MAX_DOMAINS domains of the longest length, each perhaps a wildcard
 * ("*." more); domains and relay-domains share RS_MAX_DOMAINS, and the
 * other fields are short.
 */
#define RS_MAX_DOMAINS		256
/* Exchange accepted domains the agent reads with domains = auto. */
#define RS_MAX_ACCEPTED		1024
#define RS_MAX_SOURCE		512
#define RS_MAX_HDR_LINE		(16 + RS_MAX_DOMAINS * (RS_MAX_DOMAIN_LEN + 3))
#define RS_MAX_HDR_BYTES	(RS_MAX_HDR_LINE + 4096)

/* Bundle size, compressed and decompressed; the receiver's defaults. */
#define RS_DEF_BUNDLE_BYTES	(256UL * 1024 * 1024)
#define RS_DEF_LIST_BYTES	(1024UL * 1024 * 1024)
#define RS_DEF_ENTRIES		10000000UL

/* Detached signature file (armored SSHSIG); an Ed25519 one is ~300 bytes. */
#define RS_MAX_SIG_BYTES	8192

/* allowed_signers file and config files. */
#define RS_MAX_SIGNERS_BYTES	(1024 * 1024)
#define RS_MAX_SIGNERS_BAD	32	/* unusable lines reported one by one */
#define RS_MAX_CONFIG_BYTES	(1024 * 1024)
#define RS_MAX_CONFIG_LINE	4096

/* Private key file (openssh-key-v1). */
#define RS_MAX_KEYFILE_BYTES	(64 * 1024)

/*
 * Agent: a known_hosts file with relay host key pins, and the keys one
 * relay may have pinned in it (one per type is usual).
 */
#define RS_MAX_KNOWN_HOSTS_BYTES	(1024 * 1024)
#define RS_MAX_HOST_PINS		32

/*
 * Status file: a reason string, and the file as the agent reads it (the
 * relay writes it, so for the agent it is hostile input): its size, how
 * deep objects and arrays nest (the receiver writes 3 levels), and each
 * string as written (a reason of RS_MAX_REASON bytes fits even with every
 * byte written as a two-byte escape).  DEPTH, STRING and REASON stay plain
 * numbers: messages print them.
 */
#define RS_MAX_REASON		512
#define RS_MAX_STATUS_BYTES	(1024 * 1024)
#define RS_MAX_STATUS_DEPTH	16
#define RS_MAX_STATUS_STRING	1024

/* A leftover upload temporary older than this is deleted by the receiver. */
#define RS_STALE_UPLOAD_SECS	3600

/* LDAP paging: AD's MaxPageSize default, and the ceiling for page_size. */
#define RS_MAX_PAGE_SIZE	1000

/*
 * Windows agent: the rotating log file (agent.log, agent.log.1 ...), the
 * bounded retry of a rename while antivirus or an editor holds the target
 * (as PostgreSQL's pgrename), the password set-password reads, and the
 * attributes one LDAP search may ask for.
 */
#define RS_WIN_LOG_ROTATE	(1024 * 1024)
#define RS_WIN_LOG_KEEP		4
#define RS_WIN_RENAME_TRIES	100
#define RS_WIN_RENAME_SLEEP_MS	100
#define RS_MAX_PASSWORD		1024
#define RS_MAX_LDAP_ATTRS	16
/*
 * Range retrieval: the most values, and bytes, of one attribute of one
 * entry.  Far above what AD stores in proxyAddresses (about 1200 values
 * fit its 8 KB record), low enough that a server cannot make the agent
 * hold more than one entry's worth.
 */
#define RS_MAX_RANGED_VALUES	100000
#define RS_MAX_RANGED_BYTES	(64UL * 1024 * 1024)

/*
 * Agent change detection: the object cache file (STATE/dircache) and the
 * DC identity kept in it (dsServiceName, a DN).  A cache that does not fit
 * is dropped and the agent does a full export every cycle.
 */
#define RS_MAX_CACHE_BYTES	(1024UL * 1024 * 1024)
#define RS_MAX_DSNAME		1024
#define RS_GUID_LEN		16

/* Default shrink guard, percent. */
#define RS_DEF_SHRINK_PCT	10

/*
 * Receiver.  A second receiver waits at most RS_LOCK_WAIT_SECS for the
 * first.  Refused bundles kept in quarantine: older ones are deleted, so
 * a hostile uploader cannot fill the disk through the quarantine.
 */
#define RS_LOCK_WAIT_SECS	300
#define RS_QUARANTINE_KEEP	50
#define RS_MAX_STATIC_LINES	10000	/* static additions file */
#define RS_MAX_STATIC_LINE	1024
#define RS_MAX_POSTCONF_OUT	(64 * 1024)
#define RS_MAX_SPOOL_FILES	10000	/* directory entries scanned per run */
#define RS_MAX_STATE_BYTES	(16 * 1024)	/* one agent's state file */
#define RS_MAX_AGENTS		256	/* signers merged into one map */
#define RS_MAX_POSTMAP_OUT	4096	/* postmap's messages kept for the log */
#define RS_MAX_POSTMAP_LINES	5
#define RS_INETD_DRAIN		4096	/* bytes read and dropped from the peer */
#define RS_MAX_REMOVE_DEPTH	8	/* a directory tree found in the spool */
#define RS_DEF_POSTMAP_TIMEOUT	600	/* seconds; postmap_timeout */

#endif /* RS_LIMITS_H */
