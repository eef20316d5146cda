/**
 * keepalived priorities: the first lb host gets TOP_PRIORITY, each next one PRIORITY_STEP less, and
 * the last must stay above 0. The lb role assigns them; `infra validate` refuses a VIP with more lb
 * hosts than they allow.
 */
export const TOP_PRIORITY = 200;
export const PRIORITY_STEP = 10;
export const MAX_VRRP_HOSTS = TOP_PRIORITY / PRIORITY_STEP - 1;
