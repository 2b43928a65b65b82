"""PyFlight demo target: a checkout service whose checkouts are slow.

Four request workers take orders from a queue. Each checkout must reserve inventory under a lock,
and a background price refresher holds that same lock while it recomputes every price — so the
workers spend most of their time waiting. Run `npm run demo` and look at the Stacks view: the
workers sit in `reserve_inventory` on `with INVENTORY_LOCK`, and `price-refresher` is in
`recalculate_prices` → `fetch_price_list`. Everything happens in-process: no network, no files.
"""

import os
import queue
import random
import threading
import time

INVENTORY_LOCK = threading.Lock()
INVENTORY = {"sku-%03d" % i: 100 for i in range(200)}
PRICES = {sku: 10.0 for sku in INVENTORY}
ORDERS = queue.Queue()
COMPLETED = []


def fetch_price_list():
    """Stands in for a slow query to a pricing service (~150 ms)."""
    time.sleep(0.15)
    return 1.0001


def recalculate_prices():
    """The culprit: a slow query and a recomputation done while holding the inventory lock."""
    with INVENTORY_LOCK:
        factor = fetch_price_list()
        for sku in PRICES:
            base = PRICES[sku]
            for _ in range(50):
                base = (base * factor) % 1000
            PRICES[sku] = round(base, 2)


def price_refresher():
    while True:
        recalculate_prices()
        time.sleep(0.01)


def reserve_inventory(items):
    with INVENTORY_LOCK:  # workers queue up here behind recalculate_prices
        for sku in items:
            INVENTORY[sku] -= 1


def charge_card(order_id, amount):
    time.sleep(0.005)  # a fast payment provider
    return "ch_%d_%d" % (order_id, int(amount * 100))


def handle_checkout(order):
    order_id, items = order
    reserve_inventory(items)
    total = sum(PRICES[sku] for sku in items)
    COMPLETED.append(charge_card(order_id, total))


def request_worker():
    while True:
        handle_checkout(ORDERS.get())


def traffic():
    """Simulated customers: 200 orders a second."""
    skus = list(INVENTORY)
    order_id = 0
    while True:
        order_id += 1
        ORDERS.put((order_id, random.sample(skus, 3)))
        time.sleep(0.005)


def main():
    for i in range(4):
        threading.Thread(target=request_worker, name="http-worker-%d" % (i + 1), daemon=True).start()
    threading.Thread(target=price_refresher, name="price-refresher", daemon=True).start()
    threading.Thread(target=traffic, name="traffic", daemon=True).start()
    print("READY %d" % os.getpid(), flush=True)
    while True:
        time.sleep(5)
        print("checkouts completed: %d, backlog: %d" % (len(COMPLETED), ORDERS.qsize()), flush=True)


if __name__ == "__main__":
    main()
