/* curve.c - see curve.h. */
#include "curve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* czmq's text for "no secret key" in a public certificate. */
static const char s_no_secret[] = "0000000000000000000000000000000000000000";

/* Load path with czmq; NULL with a sentence in err when there is no readable certificate. */
static zcert_t *
s_cert_load(const char *path, char *err, size_t err_size)
{
    if (path == NULL || path[0] == '\0') {
        snprintf(err, err_size, "no certificate file given");
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (cert == NULL) {
        snprintf(err, err_size, "cannot read the certificate %s (or %s_secret)", path, path);
        return NULL;
    }
    return cert;
}

int
curve_load_certificate(const char *path, curve_keys_t *keys, char *err, size_t err_size)
{
    zcert_t *cert = s_cert_load(path, err, err_size);
    if (cert == NULL)
        return -1;
    const char *secret = zcert_secret_txt(cert);
    if (strlen(secret) != CURVE_KEY_LEN || strcmp(secret, s_no_secret) == 0) {
        snprintf(err, err_size,
                 "the certificate %s holds no secret key (give the NAME of a pair written by "
                 "profaictl keygen, or its NAME_secret file)",
                 path);
        zcert_destroy(&cert);
        return -1;
    }
    snprintf(keys->public_key, sizeof keys->public_key, "%s", zcert_public_txt(cert));
    snprintf(keys->secret_key, sizeof keys->secret_key, "%s", secret);
    keys->enabled = true;
    zcert_destroy(&cert);
    return 0;
}

int
curve_load_public(const char *path, char *key, char *err, size_t err_size)
{
    zcert_t *cert = s_cert_load(path, err, err_size);
    if (cert == NULL)
        return -1;
    snprintf(key, CURVE_KEY_LEN + 1, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

int
curve_client_keys(const char *certificate, const char *broker_key, curve_keys_t *keys, char *err,
                  size_t err_size)
{
    memset(keys, 0, sizeof *keys);
    if (certificate == NULL && broker_key == NULL)
        return 0;
    if (certificate == NULL || broker_key == NULL) {
        snprintf(err, err_size,
                 "curve/certificate and curve/broker_key go together: set both or neither");
        return -1;
    }
    if (curve_load_certificate(certificate, keys, err, err_size) != 0)
        return -1;
    if (curve_load_public(broker_key, keys->server_key, err, err_size) != 0) {
        memset(keys, 0, sizeof *keys);
        return -1;
    }
    return 0;
}

void
curve_apply_client(const curve_keys_t *keys, zsock_t *sock)
{
    if (!keys->enabled)
        return;
    zsock_set_curve_publickey(sock, keys->public_key);
    zsock_set_curve_secretkey(sock, keys->secret_key);
    zsock_set_curve_serverkey(sock, keys->server_key);
}

void
curve_apply_server(const curve_keys_t *keys, zsock_t *sock, const char *domain)
{
    zsock_set_zap_domain(sock, domain);
    zsock_set_curve_publickey(sock, keys->public_key);
    zsock_set_curve_secretkey(sock, keys->secret_key);
    zsock_set_curve_server(sock, 1);
}

static bool
s_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int
curve_keygen(const char *dir, const char *name, char *public_key, char *err, size_t err_size)
{
    if (!s_name_ok(name)) {
        snprintf(err, err_size, "invalid name '%s': use 1-64 of A-Z a-z 0-9 . _ - (no leading dot)",
                 name);
        return -1;
    }
    char path[4096], secret_path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(secret_path, sizeof secret_path, "%s_secret", path);
    if (access(path, F_OK) == 0 || access(secret_path, F_OK) == 0) {
        snprintf(err, err_size, "%s or %s exists already: not overwritten", path, secret_path);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (cert == NULL) {
        snprintf(err, err_size, "cannot create a key pair (out of memory?)");
        return -1;
    }
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "created-by", "profaictl keygen");
    /* The secret file is created private, not chmod-ed after the fact. */
    mode_t old = umask(077);
    int rc = zcert_save_secret(cert, secret_path);
    umask(old);
    if (rc == 0)
        rc = zcert_save_public(cert, path);
    if (rc != 0) {
        snprintf(err, err_size, "cannot write %s: %s", rc == 0 ? path : secret_path,
                 strerror(errno));
        unlink(secret_path);
        zcert_destroy(&cert);
        return -1;
    }
    if (public_key != NULL)
        snprintf(public_key, CURVE_KEY_LEN + 1, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

bool
curve_endpoint_is_local(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    if (strchr(host, ';') != NULL)
        return false; /* a source address: not for a bind */
    if (strncmp(host, "[::1]:", 6) == 0 || strncmp(host, "localhost:", 10) == 0)
        return true;
    if (strncmp(host, "127.", 4) != 0)
        return false;
    /* 127.a.b.c: digits and dots up to the port, so "127.0.0.1.evil:" is not loopback. */
    const char *colon = strchr(host, ':');
    if (colon == NULL)
        return false;
    int dots = 0;
    for (const char *p = host; p < colon; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return dots == 3;
}
