/* jsonline: one JSON text that must be an object, as every line of the agents' JSON-lines files
 * is. json-glib accepts an empty or blank text and gives no root at all; callers that took
 * "parsed" for "has an object" then hit a NULL node, so every reader goes through here. */
#pragma once
#include <json-glib/json-glib.h>

/* The object TEXT (LEN bytes; -1: up to its NUL) holds, parsed with P; NULL when it is not JSON,
 * is blank, or is not an object. Borrowed: valid until P's next load. */
JsonObject *avma_json_object_parse(JsonParser *p, const char *text, gssize len);
