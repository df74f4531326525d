/*
 * hello.c - the trivial Windows test program (tests/t-win-build.sh).
 *
 * Built by `make -f Makefile.mingw test-exe` with the same flags and static
 * libraries as rcptsync-agent.exe, it proves that the cross toolchain, the
 * static link (OpenSSL, libssh2, zlib) and Wine work before the agent does:
 *
 *   hello.exe [WORD...]
 *
 * prints "hello rcptsync", the library versions, the SHA-256 of "abc"
 * computed by the static OpenSSL, a zlib round trip, and each argument as
 * UTF-8 (the agent's argument conversion, exercised with non-ASCII words).
 * Exit status 0 when every check passed, 1 otherwise.
 *
 *   hello.exe --load-config [WORD...]
 *
 * does the opposite of the agent and lets OpenSSL read its configuration
 * (OPENSSL_CONF or the build-time path): the control case that shows the
 * test's planted openssl.cnf would have an effect if it were read.
  *
 * Ownership: nothing outlives main.  Trust boundary: none (test program).
 */
#include <winsock2.h>		/* before windows.h (libssh2.h includes it) */
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <libssh2.h>
#include <zlib.h>

int	wmain(int, wchar_t **);

static int
hello_sha256_abc(char *hex, size_t hexsize)
{
	static const char want[] =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest("abc", 3, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    hexsize < 2 * (size_t)mdlen + 1)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return strcmp(hex, want) == 0 ? 0 : -1;
}

static int
hello_zlib(void)
{
	static const char text[] = "rcptsync zlib round trip rcptsync zlib";
	unsigned char z[128], back[128];
	uLongf zlen = sizeof(z), blen = sizeof(back);

	if (compress(z, &zlen, (const Bytef *)text, sizeof(text)) != Z_OK ||
	    uncompress(back, &blen, z, zlen) != Z_OK)
		return -1;
	return blen == sizeof(text) && memcmp(back, text, blen) == 0 ? 0 : -1;
}

int
wmain(int argc, wchar_t **argv)
{
	char hex[2 * EVP_MAX_MD_SIZE + 1], arg[1024];
	uint64_t init = OPENSSL_INIT_NO_LOAD_CONFIG;
	int i = 1, rc = 0;

	if (argc > 1 && wcscmp(argv[1], L"--load-config") == 0) {
		init = OPENSSL_INIT_LOAD_CONFIG;
		i++;
	}
	/*
	 * As in the agent: never read an openssl.cnf.  This must be the
	 * first OpenSSL call; the choice is made once per process.
	 */
	if (OPENSSL_init_crypto(init, NULL) != 1) {
		fprintf(stderr, "hello: OpenSSL init failed\n");
		return 1;
	}
	_setmode(_fileno(stdout), _O_BINARY);

	printf("hello rcptsync\n");
	printf("openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("libssh2 %s\n", libssh2_version(0));
	printf("zlib %s\n", zlibVersion());
	if (libssh2_init(0) != 0) {
		printf("libssh2_init failed\n");
		rc = 1;
	} else
		libssh2_exit();
	if (hello_sha256_abc(hex, sizeof(hex)) == 0)
		printf("sha256(abc) %s\n", hex);
	else {
		printf("sha256(abc) wrong\n");
		rc = 1;
	}
	if (hello_zlib() == 0)
		printf("zlib round trip ok\n");
	else {
		printf("zlib round trip failed\n");
		rc = 1;
	}
	for (; i < argc; i++) {
		if (WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, argv[i],
		    -1, arg, (int)sizeof(arg), NULL, NULL) == 0) {
			printf("arg %d: not convertible\n", i);
			rc = 1;
			continue;
		}
		printf("arg %d: %s\n", i, arg);
	}
	return rc;
}
