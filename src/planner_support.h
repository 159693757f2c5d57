/*
 * planner_support.h — planner support for ak_apply_filters(properties).
 * SQL-callable only (a SUPPORT function); no C interface.
 */
#ifndef ACCESS_KEY_PLANNER_SUPPORT_H
#define ACCESS_KEY_PLANNER_SUPPORT_H

#endif							/* ACCESS_KEY_PLANNER_SUPPORT_H */
