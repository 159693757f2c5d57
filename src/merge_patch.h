/*
 * merge_patch.h — JSON Merge Patch (RFC 7396) over jsonb.
 *
 * A patch that is an object changes the target member by member: a null
 * member removes the target's member, an object member patches the target's
 * member recursively (an absent or non-object target member counts as {}),
 * any other value replaces it.  A patch that is not an object replaces the
 * whole target.  Arrays are never merged, only replaced.
 */
#ifndef ACCESS_KEY_MERGE_PATCH_H
#define ACCESS_KEY_MERGE_PATCH_H

#include "postgres.h"

#include "utils/jsonb.h"

/* The target with the patch applied (a new value; neither input changes). */
extern Jsonb *AkJsonbMergePatch(Jsonb *target, Jsonb *patch);

#endif							/* ACCESS_KEY_MERGE_PATCH_H */
