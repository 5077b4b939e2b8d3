/*
 * zap.c - see zap.h. RFC 27 request: version "1.0", request id, domain, address, routing id,
 * mechanism, credentials (CURVE: the client's 32-byte public key); reply: version, request
 * id, status code, status text, user id, metadata (empty here).
 */
#include "zap.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* Keys whose refusals are remembered for the log limit; beyond it the memory starts over. */
#define ZAP_LOG_KEYS_MAX 1024
/* One allow-list directory per role. */
#define ZAP_DIRS 3

typedef struct {
    int64_t logged_at;
    unsigned left_out;
} zap_log_entry_t;

struct zap_t {
    zsock_t *sock;
    char *dirs[ZAP_DIRS]; /* workers, frontends, admins (s_dir_roles); NULL: none */
    zhashx_t *roles;      /* z85 key -> (zap_role_t) role */
    uint64_t signature;   /* of the directories' listings when last read */
    int64_t next_reload;  /* monotonic ms */
    zhashx_t *log_limits; /* z85 key -> zap_log_entry_t (owned) */
};

static const zap_role_t s_dir_roles[ZAP_DIRS] = {ZAP_ROLE_WORKER, ZAP_ROLE_FRONTEND,
                                                 ZAP_ROLE_ADMIN};

const char *
zap_role_name(zap_role_t role)
{
    switch (role) {
    case ZAP_ROLE_WORKER:
        return "worker";
    case ZAP_ROLE_FRONTEND:
        return "frontend";
    case ZAP_ROLE_ADMIN:
        return "admin";
    case ZAP_ROLE_NONE:
        break;
    }
    return "none";
}

/* Files that may hold a public certificate: not hidden, not a secret (which does not belong
 * in an allow-list, but whose public half is also in its NAME file). */
static bool
s_is_key_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && !(n >= 7 && strcmp(name + n - 7, "_secret") == 0);
}

static uint64_t
s_mix(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A hash of what the directories hold (names, sizes, mtimes, inodes): it changes when a key
 * file is added, removed, replaced or rewritten. A missing directory hashes as empty. */
static uint64_t
s_signature(zap_t *self)
{
    uint64_t h = 14695981039346656037ull;
    for (int d = 0; d < ZAP_DIRS; d++) {
        h = s_mix(h, &d, sizeof d);
        if (self->dirs[d] == NULL)
            continue;
        DIR *dir = opendir(self->dirs[d]);
        if (dir == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (!s_is_key_file(e->d_name))
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", self->dirs[d], e->d_name);
            struct stat st;
            if (stat(path, &st) != 0)
                continue;
            /* readdir's order is stable for an unchanged directory; XOR keeps it irrelevant */
            uint64_t f = s_mix(14695981039346656037ull, e->d_name, strlen(e->d_name));
            f = s_mix(f, &st.st_size, sizeof st.st_size);
            f = s_mix(f, &st.st_mtim, sizeof st.st_mtim);
            f = s_mix(f, &st.st_ino, sizeof st.st_ino);
            h ^= f;
        }
        closedir(dir);
    }
    return h;
}

/* Read the directories into a new table. NULL with a sentence in err when a directory cannot
 * be opened (strict: at start) ; with strict false a missing directory counts as empty. */
static zhashx_t *
s_load(zap_t *self, bool strict, size_t counts[ZAP_DIRS], char *err, size_t err_size)
{
    zhashx_t *roles = zhashx_new();
    if (roles == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    for (int d = 0; d < ZAP_DIRS; d++) {
        counts[d] = 0;
        if (self->dirs[d] == NULL)
            continue;
        DIR *dir = opendir(self->dirs[d]);
        if (dir == NULL) {
            if (strict) {
                snprintf(err, err_size, "cannot read the key directory %s: %s", self->dirs[d],
                         strerror(errno));
                zhashx_destroy(&roles);
                return NULL;
            }
            log_warn("key directory %s unreadable (%s): no %s key is accepted", self->dirs[d],
                     strerror(errno), zap_role_name(s_dir_roles[d]));
            continue;
        }
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (!s_is_key_file(e->d_name))
                continue;
            char path[4096], key[CURVE_KEY_LEN + 1], why[512];
            snprintf(path, sizeof path, "%s/%s", self->dirs[d], e->d_name);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            if (curve_load_public(path, key, why, sizeof why) != 0) {
                log_warn("key file %s skipped: %s", path, why);
                continue;
            }
            void *old = zhashx_lookup(roles, key);
            if (old != NULL && (zap_role_t)(intptr_t)old != s_dir_roles[d]) {
                /* One key in both roles: which one it should have is unknowable. */
                log_warn("key %s is in two of the workers, frontends and admins directories: "
                         "refused in every role until one file is removed",
                         key);
                zhashx_update(roles, key, (void *)(intptr_t)ZAP_ROLE_NONE);
                continue;
            }
            zhashx_update(roles, key, (void *)(intptr_t)s_dir_roles[d]);
            counts[d]++;
        }
        closedir(dir);
    }
    return roles;
}

zap_t *
zap_new(const char *workers_dir, const char *frontends_dir, const char *admins_dir, char *err,
        size_t err_size)
{
    zap_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    const char *dirs[ZAP_DIRS] = {workers_dir, frontends_dir, admins_dir};
    for (int d = 0; d < ZAP_DIRS; d++) {
        if (dirs[d] != NULL && (self->dirs[d] = strdup(dirs[d])) == NULL) {
            snprintf(err, err_size, "out of memory");
            goto fail;
        }
    }
    self->signature = s_signature(self);
    size_t counts[ZAP_DIRS];
    self->roles = s_load(self, true, counts, err, err_size);
    if (self->roles == NULL)
        goto fail;
    self->log_limits = zhashx_new();
    self->sock = zsock_new(ZMQ_REP);
    if (self->log_limits == NULL || self->sock == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    zhashx_set_destructor(self->log_limits, (zhashx_destructor_fn *)zstr_free);
    zsock_set_rcvtimeo(self->sock, 0);
    zsock_set_sndtimeo(self->sock, 0);
    zsock_set_linger(self->sock, 0);
    if (zsock_bind(self->sock, ZAP_ENDPOINT) != 0) {
        snprintf(err, err_size, "cannot bind the ZAP handler %s: %s", ZAP_ENDPOINT,
                 zmq_strerror(errno));
        goto fail;
    }
    log_info("CURVE on: %zu worker keys (%s), %zu frontend keys (%s), %zu admin keys (%s)",
             counts[0], workers_dir != NULL ? workers_dir : "no directory", counts[1],
             frontends_dir != NULL ? frontends_dir : "no directory", counts[2],
             admins_dir != NULL ? admins_dir : "no directory");
    return self;
fail:
    zap_destroy(&self);
    return NULL;
}

void
zap_destroy(zap_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    zap_t *self = *self_p;
    zsock_destroy(&self->sock);
    zhashx_destroy(&self->roles);
    zhashx_destroy(&self->log_limits);
    for (int d = 0; d < ZAP_DIRS; d++)
        free(self->dirs[d]);
    free(self);
    *self_p = NULL;
}

zsock_t *
zap_socket(zap_t *self)
{
    return self->sock;
}

void
zap_log_refusal(zap_t *self, const char *key, const char *kind, const char *why, int64_t now)
{
    const char *k = key != NULL && key[0] != '\0' ? key : "-";
    char limit_key[CURVE_KEY_LEN + 40];
    snprintf(limit_key, sizeof limit_key, "%s/%s", k, kind);
    zap_log_entry_t *entry = zhashx_lookup(self->log_limits, limit_key);
    if (entry != NULL && now - entry->logged_at < ZAP_LOG_INTERVAL_MS) {
        entry->left_out++;
        return;
    }
    unsigned left_out = entry != NULL ? entry->left_out : 0;
    if (entry == NULL) {
        if (zhashx_size(self->log_limits) >= ZAP_LOG_KEYS_MAX)
            zhashx_purge(self->log_limits);
        entry = calloc(1, sizeof *entry);
        /* the destructor is zstr_free, i.e. free() of the pointer */
        if (entry != NULL && zhashx_insert(self->log_limits, limit_key, entry) != 0) {
            free(entry);
            entry = NULL;
        }
    }
    if (entry != NULL) {
        entry->logged_at = now;
        entry->left_out = 0;
    }
    if (left_out > 0)
        log_warn("refused key=%s: %s (and %u more such refusals of this key in the last %d s)", k,
                 why, left_out, ZAP_LOG_INTERVAL_MS / 1000);
    else
        log_warn("refused key=%s: %s", k, why);
}

/* Answer one request; the REP socket must answer before it reads the next. */
static void
s_answer(zap_t *self, zmsg_t *request, int64_t now)
{
    char *version = zmsg_popstr(request);
    zframe_t *request_id = zmsg_pop(request);
    char *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request);
    zframe_t *routing_id = zmsg_pop(request);
    char *mechanism = zmsg_popstr(request);
    zframe_t *credentials = zmsg_pop(request);

    const char *status = "400", *text = "not allowed";
    char user_id[16 + CURVE_KEY_LEN] = "";
    char key[CURVE_KEY_LEN + 1] = "";
    char why[256];
    if (version == NULL || strcmp(version, "1.0") != 0 || request_id == NULL || mechanism == NULL) {
        status = "500";
        text = "malformed ZAP request";
        snprintf(why, sizeof why, "malformed ZAP request");
    } else if (strcmp(mechanism, "CURVE") != 0) {
        snprintf(why, sizeof why, "mechanism %s from %s (only CURVE is accepted)", mechanism,
                 address != NULL ? address : "?");
    } else if (credentials == NULL || zframe_size(credentials) != 32) {
        snprintf(why, sizeof why, "CURVE request without a 32-byte key from %s",
                 address != NULL ? address : "?");
    } else {
        zmq_z85_encode(key, zframe_data(credentials), 32);
        void *found = zhashx_lookup(self->roles, key);
        zap_role_t role = found != NULL ? (zap_role_t)(intptr_t)found : ZAP_ROLE_NONE;
        bool admin_domain = domain != NULL && strcmp(domain, ZAP_DOMAIN_ADMIN) == 0;
        if (domain == NULL || (!admin_domain && strcmp(domain, ZAP_DOMAIN) != 0)) {
            snprintf(why, sizeof why, "unknown ZAP domain '%s' (connection from %s)",
                     domain != NULL ? domain : "", address != NULL ? address : "?");
        } else if (role != ZAP_ROLE_NONE && admin_domain != (role == ZAP_ROLE_ADMIN)) {
            /* Roles stay apart: the admin socket takes admin keys only, and they nothing else. */
            snprintf(why, sizeof why, "%s key on the %s (connection from %s)", zap_role_name(role),
                     admin_domain ? "admin socket" : "workers' and frontends' endpoint",
                     address != NULL ? address : "?");
        } else if (role != ZAP_ROLE_NONE) {
            status = "200";
            text = "OK";
            snprintf(user_id, sizeof user_id, "%s:%s", zap_role_name(role), key);
            log_debug("accepted key=%s role=%s address=%s", key, zap_role_name(role),
                      address != NULL ? address : "?");
        } else {
            snprintf(why, sizeof why, "key not in any allow-list (connection from %s%s)",
                     address != NULL ? address : "?", admin_domain ? " to the admin socket" : "");
        }
    }
    if (status[0] != '2')
        zap_log_refusal(self, key, "handshake", why, now);

    zmsg_t *reply = zmsg_new();
    if (reply != NULL) {
        zmsg_addstr(reply, "1.0");
        if (request_id != NULL)
            zmsg_append(reply, &request_id);
        else
            zmsg_addmem(reply, NULL, 0);
        zmsg_addstr(reply, status);
        zmsg_addstr(reply, text);
        zmsg_addstr(reply, user_id);
        zmsg_addmem(reply, NULL, 0);
        if (zmsg_send(&reply, self->sock) != 0) {
            log_error("cannot answer a ZAP request: %s", zmq_strerror(errno));
            zmsg_destroy(&reply);
        }
    }
    zstr_free(&version);
    zframe_destroy(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zframe_destroy(&routing_id);
    zstr_free(&mechanism);
    zframe_destroy(&credentials);
}

void
zap_handle(zap_t *self, int64_t now)
{
    for (;;) {
        zmsg_t *request = zmsg_recv(self->sock); /* RCVTIMEO 0 */
        if (request == NULL)
            return;
        s_answer(self, request, now);
        zmsg_destroy(&request);
    }
}

bool
zap_reload_due(zap_t *self, int64_t now)
{
    if (now < self->next_reload)
        return false;
    self->next_reload = now + ZAP_RELOAD_MS;
    uint64_t signature = s_signature(self);
    if (signature == self->signature)
        return false;
    char err[256];
    size_t counts[ZAP_DIRS];
    zhashx_t *roles = s_load(self, false, counts, err, sizeof err);
    if (roles == NULL) {
        log_error("cannot reload the key directories: %s; the old allow-lists stay", err);
        return false;
    }
    self->signature = signature;
    zhashx_destroy(&self->roles);
    self->roles = roles;
    log_info("key directories changed: now %zu worker keys, %zu frontend keys, %zu admin keys",
             counts[0], counts[1], counts[2]);
    return true;
}

bool
zap_key_allowed(zap_t *self, const char *key, zap_role_t role)
{
    void *found = zhashx_lookup(self->roles, key);
    return found != NULL && (zap_role_t)(intptr_t)found == role;
}

zap_role_t
zap_peer_role(zap_t *self, zframe_t *frame, char *key)
{
    key[0] = '\0';
    const char *user_id = frame != NULL ? zframe_meta(frame, "User-Id") : NULL;
    if (user_id == NULL)
        return ZAP_ROLE_NONE;
    const char *colon = strchr(user_id, ':');
    if (colon == NULL || strlen(colon + 1) != CURVE_KEY_LEN)
        return ZAP_ROLE_NONE;
    snprintf(key, CURVE_KEY_LEN + 1, "%s", colon + 1);
    zap_role_t role = ZAP_ROLE_NONE;
    size_t n = (size_t)(colon - user_id);
    if (n == 6 && strncmp(user_id, "worker", n) == 0)
        role = ZAP_ROLE_WORKER;
    else if (n == 8 && strncmp(user_id, "frontend", n) == 0)
        role = ZAP_ROLE_FRONTEND;
    else if (n == 5 && strncmp(user_id, "admin", n) == 0)
        role = ZAP_ROLE_ADMIN;
    return zap_key_allowed(self, key, role) ? role : ZAP_ROLE_NONE;
}
