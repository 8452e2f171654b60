/*
 * The whole C ABI from C: an engine, a policy from a file and from bytes, a runtime fed lists and
 * devices, decisions one at a time and in batches, the registration exchange (device and server
 * sides), metrics, a swap racing decisions on two threads, every kind of refusal, and everything
 * freed. Built and run by `host/ffi/tests/c.rs` (also under valgrind).
 *
 *   flow POLICY OTHER_POLICY [--explicit-bounds-checks] [--decisions N]
 *
 * POLICY decides like the reference policy, OTHER_POLICY like always-secure; either may be a
 * component or a precompiled artifact. Exits 0 when every check holds, 1 naming the first that fails.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pathsec.h"

#define CHECK(condition)                                                                           \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__,     \
                    #condition, pathsec_last_error());                                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A call that must succeed. */
#define OK(call) CHECK((call) == PATHSEC_OK)

/* A call that must fail with `status`, and a message containing `words`. */
#define REFUSED(call, status, words)                                                               \
    do {                                                                                           \
        PathsecStatus got_ = (call);                                                               \
        if (got_ != (status) || strstr(pathsec_last_error(), (words)) == NULL) {                   \
            fprintf(stderr, "%s:%d: %s: expected %s with \"%s\", got %s: %s\n", __FILE__, __LINE__, \
                    #call, pathsec_status_name(status), (words), pathsec_status_name(got_),        \
                    pathsec_last_error());                                                         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static const char *LISTS = "path-a = [\"310410\", \"20801\", \"44010\"]\n"
                           "path-b = [{ home = \"310410\", server = \"mtc.example.com\" }]\n"
                           "interconnect-per-home = [{ home = \"310410\", visited = [\"20801\"] }]\n";

static unsigned char *read_file(const char *path, size_t *length) {
    FILE *file = fopen(path, "rb");
    CHECK(file != NULL);
    CHECK(fseek(file, 0, SEEK_END) == 0);
    long size = ftell(file);
    CHECK(size > 0);
    rewind(file);
    unsigned char *bytes = malloc((size_t)size);
    CHECK(bytes != NULL);
    CHECK(fread(bytes, 1, (size_t)size, file) == (size_t)size);
    fclose(file);
    *length = (size_t)size;
    return bytes;
}

static int is_artifact(const unsigned char *bytes, size_t length) {
    return length > 16 && memcmp(bytes, "pathsec-artifact", 16) == 0;
}

static PathsecStatus load_bytes(PathsecHandle engine, const char *name, const unsigned char *bytes,
                                size_t length, PathsecHandle *policy) {
    if (is_artifact(bytes, length)) {
        return pathsec_policy_load_artifact(engine, name, bytes, length, NULL, policy);
    }
    return pathsec_policy_load_bytes(engine, name, bytes, length, NULL, policy);
}

static PathsecDecision decide(PathsecHandle worker, uint32_t device, uint32_t server, uint32_t role,
                              uint32_t event) {
    PathsecFlow flow = {device, server, role, event, 0, 0};
    PathsecDecision decision;
    OK(pathsec_worker_decide(worker, &flow, &decision));
    return decision;
}

static const char *reason_name(uint32_t reason) {
    return pathsec_name(PATHSEC_VOCABULARY_REASON, reason);
}

/* The swap race: each thread decides with its own worker while the main thread swaps. */
struct racer {
    PathsecHandle runtime;
    uint32_t device, server;
    long decisions;
    long plain, secured;
};

static void *race(void *argument) {
    struct racer *racer = argument;
    PathsecHandle worker = 0;
    OK(pathsec_worker_new(racer->runtime, &worker));
    for (long i = 0; i < racer->decisions; i++) {
        PathsecDecision d = decide(worker, racer->device, racer->server, PATHSEC_ROLE_SERVER,
                                   PATHSEC_EVENT_SEND_DATA);
        /* One policy or the other, never a fault or anything else. */
        CHECK(d.fault == 0);
        if (d.action == PATHSEC_ACTION_SEND_PLAIN) {
            racer->plain++;
        } else {
            CHECK(d.action == PATHSEC_ACTION_SECURE_THEN_SEND);
            racer->secured++;
        }
    }
    OK(pathsec_worker_free(worker));
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: flow POLICY OTHER_POLICY [--explicit-bounds-checks] [--decisions N]\n");
        return 2;
    }
    bool explicit_bounds_checks = false;
    long decisions = 100000;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--explicit-bounds-checks") == 0) {
            explicit_bounds_checks = true;
        } else if (strcmp(argv[i], "--decisions") == 0 && i + 1 < argc) {
            decisions = atol(argv[++i]);
        }
    }

    /* The library is the one this program was built for. */
    CHECK(pathsec_abi_version() == PATHSEC_ABI_VERSION);
    CHECK(strcmp(pathsec_last_error(), "") == 0);

    /* An engine, with the default limits spelt out and one changed. */
    PathsecLimits limits;
    OK(pathsec_limits_default(&limits));
    CHECK(limits.deadline_us == 10000);
    limits.deadline_us = 1000000; /* generous: valgrind is slow */
    PathsecEngineOptions options = {0};
    options.size = sizeof options;
    options.limits = &limits;
    options.explicit_bounds_checks = explicit_bounds_checks;
    PathsecHandle engine = 0;
    REFUSED(pathsec_engine_new(&options, NULL), PATHSEC_ERR_NULL, "argument `engine` is null");
    options.size = 3;
    REFUSED(pathsec_engine_new(&options, &engine), PATHSEC_ERR_INVALID, "`PathsecEngineOptions.size` is 3");
    options.size = sizeof options;
    limits.memory = 10;
    REFUSED(pathsec_engine_new(&options, &engine), PATHSEC_ERR_INVALID, "invalid limit `memory`");
    limits.memory = 64u << 20;
    const char *not_a_key = "pathsec-ed25519-public nope";
    options.trusted_keys = &not_a_key;
    options.trusted_key_count = 1;
    REFUSED(pathsec_engine_new(&options, &engine), PATHSEC_ERR_INVALID, "options.trusted_keys[0]");
    options.trusted_keys = NULL;
    options.trusted_key_count = 0;
    OK(pathsec_engine_new(&options, &engine));
    CHECK(engine != 0);

    /* Policies: refusals first. */
    PathsecHandle policy = 0, other = 0, junk = 0;
    const unsigned char garbage[] = "this is not WebAssembly";
    REFUSED(pathsec_policy_load_bytes(engine, "junk.wasm", garbage, sizeof garbage, NULL, &junk),
            PATHSEC_ERR_POLICY, "`junk.wasm`");
    REFUSED(pathsec_policy_load_artifact(engine, "junk.cwasm", garbage, sizeof garbage, NULL, &junk),
            PATHSEC_ERR_POLICY, "not a precompiled pathsec artifact");
    REFUSED(pathsec_policy_load_bytes(engine, "junk.wasm", NULL, 10, NULL, &junk), PATHSEC_ERR_NULL,
            "argument `component` is null");
    REFUSED(pathsec_policy_load_file(engine, "/nonexistent/policy.wasm", &junk), PATHSEC_ERR_IO,
            "/nonexistent/policy.wasm");
    const char not_utf8[] = {'p', (char)0xff, 'x', 0};
    REFUSED(pathsec_policy_load_file(engine, not_utf8, &junk), PATHSEC_ERR_INVALID,
            "argument `path` is not UTF-8");
    CHECK(junk == 0); /* outputs are written only on success */

    /* The policy from its file; the other from bytes. */
    OK(pathsec_policy_load_file(engine, argv[1], &policy));
    size_t other_length = 0;
    unsigned char *other_bytes = read_file(argv[2], &other_length);
    OK(load_bytes(engine, "other", other_bytes, other_length, &other));
    free(other_bytes);
    char digest[64];
    size_t written = 0;
    REFUSED(pathsec_policy_digest(policy, (uint8_t *)digest, 10, &written), PATHSEC_ERR_BUFFER,
            "call again with a buffer of `*written` bytes");
    CHECK(written == 64);
    OK(pathsec_policy_digest(policy, (uint8_t *)digest, sizeof digest, &written));
    CHECK(written == 64);

    /* A runtime; the lists; a server; devices. */
    PathsecHandle runtime = 0;
    OK(pathsec_runtime_new(policy, &runtime));
    REFUSED(pathsec_runtime_set_lists(runtime, "lists.toml", "path-a = [\"31041x\"]\n"), PATHSEC_ERR_INVALID,
            "lists.toml");
    OK(pathsec_runtime_set_lists(runtime, "lists.toml", LISTS));
    uint32_t server = 0, legacy = 0, meter = 0, tracker = 0, sensor = 0;
    OK(pathsec_runtime_server(runtime, "MTC.example.com.", &server)); /* case and the dot ignored */
    OK(pathsec_runtime_server(runtime, "legacy.example.org", &legacy));
    REFUSED(pathsec_runtime_server(runtime, "not a name", &legacy), PATHSEC_ERR_INVALID, "`fqdn`");
    OK(pathsec_runtime_device(runtime, "meter-17", &meter));
    OK(pathsec_runtime_device(runtime, "tracker-9", &tracker));
    OK(pathsec_runtime_device(runtime, "sensor-4", &sensor));
    PathsecAttach home = {sizeof(PathsecAttach), "310410", "310410", PATHSEC_ACCESS_3GPP};
    PathsecAttach roaming = {sizeof(PathsecAttach), "20801", "310410", PATHSEC_ACCESS_3GPP};
    PathsecAttach elsewhere = {sizeof(PathsecAttach), "44010", "310410", PATHSEC_ACCESS_3GPP};
    OK(pathsec_runtime_set_attach(runtime, meter, &home));
    OK(pathsec_runtime_set_attach(runtime, tracker, &roaming));
    OK(pathsec_runtime_set_attach(runtime, sensor, &elsewhere));
    PathsecAttach bad = {sizeof(PathsecAttach), "31041", "3104100", PATHSEC_ACCESS_3GPP};
    REFUSED(pathsec_runtime_set_attach(runtime, sensor, &bad), PATHSEC_ERR_INVALID, "`attach.home`");
    bad.home = "310410";
    bad.access = 17;
    REFUSED(pathsec_runtime_set_attach(runtime, sensor, &bad), PATHSEC_ERR_INVALID, "`attach.access` is 17");
    for (uint32_t device = meter; device <= sensor; device++) {
        OK(pathsec_runtime_set_link(runtime, device, true, true));
    }
    REFUSED(pathsec_runtime_set_link(runtime, 4242, true, true), PATHSEC_ERR_DEVICE, "device handle 4242");

    /* Decisions, one at a time, as the server. */
    PathsecHandle worker = 0;
    OK(pathsec_worker_new(runtime, &worker));
    PathsecDecision d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN && d.reason == PATHSEC_REASON_PATH_SECURE && d.fault == 0);
    d = decide(worker, tracker, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN); /* 20801 is on List 3 for 310410 */
    d = decide(worker, sensor, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_RECEIVE_UNPROTECTED);
    CHECK(d.action == PATHSEC_ACTION_DISCARD_AND_SECURE);
    CHECK(strcmp(reason_name(d.reason), "interconnect-not-trusted") == 0);
    d = decide(worker, meter, legacy, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(strcmp(reason_name(d.reason), "path-b-not-trusted") == 0);
    /* The List 2 pair added through the ABI: the next decision sees it. */
    OK(pathsec_runtime_trust(runtime, "310410", "legacy.example.org", NULL, true));
    d = decide(worker, meter, legacy, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN);
    OK(pathsec_runtime_trust(runtime, "310410", "legacy.example.org", NULL, false));
    REFUSED(pathsec_runtime_trust(runtime, "310410", "legacy.example.org", "20801", true), PATHSEC_ERR_INVALID,
            "not both");
    /* List 1 terms: 310410 vouching for wireline alone leaves the meter's 3GPP access unvouched. */
    OK(pathsec_runtime_trust_path_a(runtime, "310410", 1u << PATHSEC_ACCESS_WIRELINE, false));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(strcmp(reason_name(d.reason), "path-a-not-trusted") == 0);
    REFUSED(pathsec_runtime_trust_path_a(runtime, "310410", 0, false), PATHSEC_ERR_INVALID, "at least one bit");
    REFUSED(pathsec_runtime_trust_path_a(runtime, "310410", 1u << 4, false), PATHSEC_ERR_INVALID, "only bits 0-3");
    OK(pathsec_runtime_trust_path_a(runtime, "310410", 1u << PATHSEC_ACCESS_3GPP, true));
    OK(pathsec_runtime_set_link(runtime, meter, true, false));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(strcmp(reason_name(d.reason), "access-integrity-off") == 0);
    OK(pathsec_runtime_set_link(runtime, meter, true, true));
    OK(pathsec_runtime_trust_path_a(runtime, "310410", 1u << PATHSEC_ACCESS_3GPP, false));
    /* The server attached to 20801: List 2 has no (20801, mtc.example.com) pair; then back at home. */
    OK(pathsec_runtime_attach_server(runtime, "MTC.example.com.", "20801"));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(strcmp(reason_name(d.reason), "path-b-not-trusted") == 0);
    OK(pathsec_runtime_attach_server(runtime, "mtc.example.com", NULL));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN);
    /* Integrity alone protects path A ("encryption and/or integrity"); neither on: application-layer
     * security; the network no longer telling this server: List 1 decides. */
    OK(pathsec_runtime_set_link(runtime, meter, false, true));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN);
    OK(pathsec_runtime_set_link(runtime, meter, false, false));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SECURE_THEN_SEND);
    CHECK(strcmp(reason_name(d.reason), "access-not-protected") == 0);
    OK(pathsec_runtime_clear_link(runtime, meter));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN);
    OK(pathsec_runtime_set_link(runtime, meter, true, true));
    /* A device the runtime never issued, and a detached one, fail closed. */
    d = decide(worker, 4242, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SECURE_THEN_SEND && strcmp(reason_name(d.reason), "attach-unknown") == 0);
    OK(pathsec_runtime_clear_attach(runtime, sensor));
    d = decide(worker, sensor, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_RECEIVE_UNPROTECTED);
    CHECK(d.action == PATHSEC_ACTION_DISCARD_AND_SECURE);
    OK(pathsec_runtime_set_attach(runtime, sensor, &elsewhere));
    /* Malformed flows. */
    PathsecFlow flow = {meter, server, 7, PATHSEC_EVENT_SEND_DATA, 0, 0};
    REFUSED(pathsec_worker_decide(worker, &flow, &d), PATHSEC_ERR_INVALID, "`flow.role` is 7");
    REFUSED(pathsec_worker_decide(worker, NULL, &d), PATHSEC_ERR_NULL, "argument `flow` is null");
    REFUSED(pathsec_worker_decide(worker, &flow, NULL), PATHSEC_ERR_NULL, "argument `decision` is null");
    /* A received trigger carries its checks. */
    PathsecFlow trigger = {meter, server, PATHSEC_ROLE_DEVICE, PATHSEC_EVENT_RECEIVE_TRIGGER,
                           PATHSEC_ACCESS_INTEGRITY_FAILED, PATHSEC_END_TO_END_ABSENT};
    OK(pathsec_worker_decide(worker, &trigger, &d));
    CHECK(d.action == PATHSEC_ACTION_DISCARD);
    CHECK(strcmp(reason_name(d.reason), "trigger-integrity-failed") == 0);

    /* A batch: every device and event. */
    PathsecFlow batch[64];
    PathsecDecision answers[64];
    for (int i = 0; i < 64; i++) {
        PathsecFlow f = {meter + (uint32_t)(i % 3), i % 5 == 0 ? legacy : server, PATHSEC_ROLE_SERVER,
                         (uint32_t)(i % 3), 0, 0};
        batch[i] = f;
    }
    OK(pathsec_worker_decide_batch(worker, batch, 64, answers));
    for (int i = 0; i < 64; i++) {
        PathsecDecision one = decide(worker, batch[i].device, batch[i].server, batch[i].role, batch[i].event);
        CHECK(memcmp(&one, &answers[i], sizeof one) == 0);
    }
    batch[3].event = 99;
    REFUSED(pathsec_worker_decide_batch(worker, batch, 64, answers), PATHSEC_ERR_INVALID, "`flows[3].event` is 99");
    batch[3].event = PATHSEC_EVENT_SEND_DATA;
    REFUSED(pathsec_worker_decide_batch(worker, batch, (size_t)1 << 40, answers), PATHSEC_ERR_INVALID,
            "more than the");

    /* The registration exchange: a device runtime reports, the server decides, the device stores. */
    PathsecHandle device_runtime = 0, device_worker = 0;
    REFUSED(pathsec_runtime_new_with_settings(policy, "settings.toml", "[registration]\ntimer = \"soon\"\n",
                                              &device_runtime),
            PATHSEC_ERR_INVALID, "registration.timer");
    OK(pathsec_runtime_new_with_settings(policy, "settings.toml",
                                         "[device]\naccept-plain-from = [\"mtc.example.com\"]\n", &device_runtime));
    OK(pathsec_runtime_set_lists(device_runtime, "lists.toml", LISTS));
    uint32_t me = 0, my_server = 0;
    OK(pathsec_runtime_device(device_runtime, "imsi-310410000000001", &me));
    OK(pathsec_runtime_server(device_runtime, "mtc.example.com", &my_server));
    OK(pathsec_runtime_set_attach(device_runtime, me, &roaming));
    OK(pathsec_runtime_set_link(device_runtime, me, true, true));
    const char *offered[] = {"dtls-1.3"};
    uint8_t report[4096], indication[4096];
    size_t report_length = 0, indication_length = 0;
    REFUSED(pathsec_runtime_registration_report(device_runtime, me, "mtc.example.com", offered, 1,
                                                PATHSEC_FORMAT_CBOR, report, 8, &report_length),
            PATHSEC_ERR_BUFFER, "the report is");
    CHECK(report_length > 8);
    OK(pathsec_runtime_registration_report(device_runtime, me, "mtc.example.com", offered, 1, PATHSEC_FORMAT_CBOR,
                                           report, sizeof report, &report_length));
    REFUSED(pathsec_worker_register(worker, PATHSEC_FORMAT_CBOR, report, report_length, false, indication,
                                    sizeof indication, &indication_length),
            PATHSEC_ERR_REGISTRATION, "did not come over a protected exchange");
    OK(pathsec_worker_register(worker, PATHSEC_FORMAT_CBOR, report, report_length, true, indication,
                               sizeof indication, &indication_length));
    uint32_t state = 99;
    REFUSED(pathsec_runtime_accept_indication(device_runtime, me, PATHSEC_FORMAT_JSON, indication, indication_length,
                                              &state),
            PATHSEC_ERR_REGISTRATION, "JSON");
    REFUSED(pathsec_runtime_accept_indication_over(device_runtime, me, PATHSEC_FORMAT_CBOR, indication,
                                                   indication_length, false, &state),
            PATHSEC_ERR_REGISTRATION, "did not arrive over a protected exchange");
    /* The device reports again before the answer arrives: the late answer to the first report is refused. */
    uint8_t answer[4096];
    size_t answer_length = 0;
    OK(pathsec_runtime_registration_report(device_runtime, me, "mtc.example.com", offered, 1, PATHSEC_FORMAT_CBOR,
                                           report, sizeof report, &report_length));
    OK(pathsec_worker_register(worker, PATHSEC_FORMAT_CBOR, report, report_length, true, answer, sizeof answer,
                               &answer_length));
    REFUSED(pathsec_runtime_accept_indication(device_runtime, me, PATHSEC_FORMAT_CBOR, indication, indication_length,
                                              &state),
            PATHSEC_ERR_REGISTRATION, "an answer to another report is refused");
    OK(pathsec_runtime_accept_indication_over(device_runtime, me, PATHSEC_FORMAT_CBOR, answer, answer_length, true,
                                              &state));
    CHECK(state == PATHSEC_REGISTRATION_STANDING);
    /* The same indication again is a replay. */
    REFUSED(pathsec_runtime_accept_indication(device_runtime, me, PATHSEC_FORMAT_CBOR, answer, answer_length, &state),
            PATHSEC_ERR_REGISTRATION, "a replay is refused");
    OK(pathsec_worker_new(device_runtime, &device_worker));
    d = decide(device_worker, me, my_server, PATHSEC_ROLE_DEVICE, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN && d.fault == 0);
    OK(pathsec_worker_free(device_worker));
    OK(pathsec_runtime_free(device_runtime));

    /* Many decisions: hits, and a miss whenever a device's access security changes. */
    long plain = 0;
    for (long i = 0; i < decisions; i++) {
        if (i % 16 == 0) {
            /* Access security on, or off altogether (either flag alone protects path A). */
            bool on = (i / 16) % 4 != 3;
            OK(pathsec_runtime_set_link(runtime, meter, on, on));
        }
        d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
        CHECK(d.fault == 0);
        plain += d.action == PATHSEC_ACTION_SEND_PLAIN;
    }
    CHECK(plain > 0 && plain < decisions);
    OK(pathsec_runtime_set_link(runtime, meter, true, true));

    /* A swap racing decisions on two threads. */
    struct racer racers[2] = {{runtime, meter, server, decisions / 10, 0, 0},
                              {runtime, tracker, server, decisions / 10, 0, 0}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        CHECK(pthread_create(&threads[i], NULL, race, &racers[i]) == 0);
    }
    for (int swap = 0; swap < 20; swap++) {
        OK(pathsec_runtime_swap(runtime, swap % 2 == 0 ? other : policy));
    }
    for (int i = 0; i < 2; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    /* After the last swap (back to the first policy), decisions are the first policy's. */
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN);

    /* Metrics, as counters and as Prometheus text. */
    PathsecMetrics metrics = {0};
    REFUSED(pathsec_runtime_metrics(runtime, &metrics), PATHSEC_ERR_INVALID, "`PathsecMetrics.size` is 0");
    metrics.size = sizeof metrics;
    OK(pathsec_runtime_metrics(runtime, &metrics));
    CHECK(metrics.decisions >= (uint64_t)decisions);
    CHECK(metrics.cache_hits > 0 && metrics.policy_calls > 0);
    /* Three devices, and the one that registered with the server. */
    CHECK(metrics.swaps == 20 && metrics.devices == 4);
    size_t text_length = 0;
    REFUSED(pathsec_runtime_metrics_text(runtime, NULL, 0, &text_length), PATHSEC_ERR_BUFFER, "metrics text");
    char *text = malloc(text_length + 1);
    CHECK(text != NULL);
    OK(pathsec_runtime_metrics_text(runtime, (uint8_t *)text, text_length, &text_length));
    text[text_length] = 0;
    CHECK(strstr(text, "pathsec_decisions") != NULL);
    free(text);

    /* A canary of the other policy (the strict baseline) for every device, rolled back; then a shadow. */
    char enforcing[64];
    size_t enforcing_length = 0;
    REFUSED(pathsec_runtime_start_canary(runtime, other, 150.0), PATHSEC_ERR_INVALID, "from 0 to 100");
    REFUSED(pathsec_runtime_roll_back(runtime), PATHSEC_ERR_POLICY, "no canary runs");
    OK(pathsec_runtime_start_canary(runtime, other, 100.0));
    OK(pathsec_runtime_enforcing(runtime, meter, (uint8_t *)enforcing, sizeof enforcing - 1, &enforcing_length));
    enforcing[enforcing_length] = 0;
    CHECK(strcmp(enforcing, "other") == 0);
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SECURE_THEN_SEND);
    OK(pathsec_runtime_roll_back(runtime));
    d = decide(worker, meter, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.action == PATHSEC_ACTION_SEND_PLAIN);
    REFUSED(pathsec_runtime_start_shadow(runtime, other, 0), PATHSEC_ERR_INVALID, "`every` is 0");
    OK(pathsec_runtime_start_shadow(runtime, other, 1));
    d = decide(worker, tracker, server, PATHSEC_ROLE_SERVER, PATHSEC_EVENT_SEND_DATA);
    CHECK(d.fault == 0); /* the active policy's answer, whatever the shadow says */
    OK(pathsec_runtime_end_shadow(runtime));
    REFUSED(pathsec_runtime_enforcing(runtime, 4000000, (uint8_t *)enforcing, sizeof enforcing, &enforcing_length),
            PATHSEC_ERR_DEVICE, "not a device of this runtime");

    /* Handles: wrong kind, none, never issued, used after free, freed twice. */
    REFUSED(pathsec_worker_decide(policy, &batch[0], &d), PATHSEC_ERR_HANDLE, "is a policy, not a worker");
    REFUSED(pathsec_runtime_swap(engine, policy), PATHSEC_ERR_HANDLE, "is an engine, not a runtime");
    REFUSED(pathsec_policy_free(0), PATHSEC_ERR_HANDLE, "is not a handle");
    REFUSED(pathsec_policy_free(0x7777777700001234ull), PATHSEC_ERR_HANDLE, "is not a handle this library issued");
    OK(pathsec_policy_free(other));
    REFUSED(pathsec_runtime_swap(runtime, other), PATHSEC_ERR_HANDLE, "was freed already");
    REFUSED(pathsec_policy_free(other), PATHSEC_ERR_HANDLE, "was freed already");
    /* Its slot reused: the stale handle still names nothing. */
    PathsecHandle reused = 0;
    OK(pathsec_policy_load_file(engine, argv[2], &reused));
    CHECK(reused != other);
    REFUSED(pathsec_policy_free(other), PATHSEC_ERR_HANDLE, "was freed already");
    OK(pathsec_policy_free(reused));

    /* The last error is readable by copy, truncated to the buffer. */
    char small[8];
    size_t full = pathsec_last_error_copy(small, sizeof small);
    CHECK(full > sizeof small && strlen(small) == sizeof small - 1);

    /* Everything freed: the worker, the runtime (still running the policy), the policy, the engine. */
    OK(pathsec_worker_free(worker));
    OK(pathsec_runtime_free(runtime));
    OK(pathsec_policy_free(policy));
    OK(pathsec_engine_free(engine));
    REFUSED(pathsec_engine_free(engine), PATHSEC_ERR_HANDLE, "was freed already");
    CHECK(pathsec_live_handles() == 0);
    printf("ok: %ld decisions, then %ld on two threads racing 20 swaps (%ld by the first policy, %ld by the other)\n",
           decisions, racers[0].decisions + racers[1].decisions, racers[0].plain + racers[1].plain,
           racers[0].secured + racers[1].secured);
    return 0;
}
