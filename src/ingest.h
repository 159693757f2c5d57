/*
 * ingest.h — batch ingest in the shape of Keen's multi-event API.
 */
#ifndef ACCESS_KEY_INGEST_H
#define ACCESS_KEY_INGEST_H

#include "postgres.h"

#endif							/* ACCESS_KEY_INGEST_H */
