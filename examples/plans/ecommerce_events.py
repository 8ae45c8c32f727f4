"""Typed calls for the tracking plan 'E-commerce': generated from ecommerce-plan.json by analytics-async.

Do not edit: regenerate with `python -m analytics_async plan codegen ecommerce-plan.json -o FILE`; CI can
check it is current with `--check`. Each event has an async function (taking an `Analytics`) and
a `_sync` one (taking an `analytics_async.sync.Client`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict

from analytics_async import Analytics, Context
from analytics_async.sync import Client

Callback = Callable[[Exception | None, Context], object]
"""What an event's `callback` is called with once it settles."""

__all__ = [
    "CartViewedPropertiesProductsItem",
    "cart_viewed",
    "cart_viewed_sync",
    "checkout_started",
    "checkout_started_sync",
    "coupon_applied",
    "coupon_applied_sync",
    "group",
    "group_sync",
    "identify",
    "identify_sync",
    "order_completed",
    "order_completed_sync",
    "order_refunded",
    "order_refunded_sync",
    "product_added",
    "product_added_sync",
    "product_viewed",
    "product_viewed_sync",
    "products_searched",
    "products_searched_sync",
]


class CartViewedPropertiesProductsItem(TypedDict):
    """The `CartViewedPropertiesProductsItem` object."""

    product_id: str
    """The product's id in the catalog."""
    sku: NotRequired[str]
    name: NotRequired[str]
    price: float
    """Unit price, in the order's currency."""
    quantity: NotRequired[int]


def _present(values: dict[str, Any], optional: tuple[str, ...]) -> dict[str, Any]:
    """`values` without the optional ones left at None."""
    return {k: v for k, v in values.items() if v is not None or k not in optional}


def _with_version(context: Mapping[str, Any] | None, version: int) -> dict[str, Any]:
    """`context` naming the rule's version, as Segment Protocols reads it."""
    merged = dict(context or {})
    merged["protocols"] = {**merged.get("protocols", {}), "event_version": version}
    return merged


async def products_searched(
    analytics: Analytics,
    *,
    query: str,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """A user searched the catalog.

    Tracks `Products Searched` (TRACK 'Products Searched' v1).

    - `query`: What they typed.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "query": query,
        },
        (),
    )
    return await analytics.track(
        event="Products Searched",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def products_searched_sync(
    client: Client,
    *,
    query: str,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """A user searched the catalog.

    Tracks `Products Searched`, through the sync drop-in (TRACK 'Products Searched' v1).

    - `query`: What they typed.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "query": query,
        },
        (),
    )
    return client.track(
        event="Products Searched",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def product_viewed(
    analytics: Analytics,
    *,
    product_id: str,
    name: str | None = None,
    category: str | None = None,
    price: float | None = None,
    currency: Literal["USD", "EUR", "GBP"] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """A user viewed a product page.

    Tracks `Product Viewed` (TRACK 'Product Viewed' v1).

    - `currency`: ISO 4217 currency code.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "product_id": product_id,
            "name": name,
            "category": category,
            "price": price,
            "currency": currency,
        },
        (
            "name",
            "category",
            "price",
            "currency",
        ),
    )
    return await analytics.track(
        event="Product Viewed",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def product_viewed_sync(
    client: Client,
    *,
    product_id: str,
    name: str | None = None,
    category: str | None = None,
    price: float | None = None,
    currency: Literal["USD", "EUR", "GBP"] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """A user viewed a product page.

    Tracks `Product Viewed`, through the sync drop-in (TRACK 'Product Viewed' v1).

    - `currency`: ISO 4217 currency code.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "product_id": product_id,
            "name": name,
            "category": category,
            "price": price,
            "currency": currency,
        },
        (
            "name",
            "category",
            "price",
            "currency",
        ),
    )
    return client.track(
        event="Product Viewed",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def product_added(
    analytics: Analytics,
    *,
    cart_id: str,
    product_id: str,
    quantity: int,
    price: float | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """A user added a product to their cart.

    Tracks `Product Added` (TRACK 'Product Added' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "cart_id": cart_id,
            "product_id": product_id,
            "quantity": quantity,
            "price": price,
        },
        ("price",),
    )
    return await analytics.track(
        event="Product Added",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def product_added_sync(
    client: Client,
    *,
    cart_id: str,
    product_id: str,
    quantity: int,
    price: float | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """A user added a product to their cart.

    Tracks `Product Added`, through the sync drop-in (TRACK 'Product Added' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "cart_id": cart_id,
            "product_id": product_id,
            "quantity": quantity,
            "price": price,
        },
        ("price",),
    )
    return client.track(
        event="Product Added",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def cart_viewed(
    analytics: Analytics,
    *,
    cart_id: str,
    products: Sequence[CartViewedPropertiesProductsItem] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """A user viewed their cart.

    Tracks `Cart Viewed` (TRACK 'Cart Viewed' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "cart_id": cart_id,
            "products": products,
        },
        ("products",),
    )
    return await analytics.track(
        event="Cart Viewed",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def cart_viewed_sync(
    client: Client,
    *,
    cart_id: str,
    products: Sequence[CartViewedPropertiesProductsItem] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """A user viewed their cart.

    Tracks `Cart Viewed`, through the sync drop-in (TRACK 'Cart Viewed' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "cart_id": cart_id,
            "products": products,
        },
        ("products",),
    )
    return client.track(
        event="Cart Viewed",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def checkout_started(
    analytics: Analytics,
    *,
    order_id: str,
    value: float | None = None,
    currency: Literal["USD", "EUR", "GBP"] | None = None,
    products: Sequence[CartViewedPropertiesProductsItem] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """A user started checking out.

    Tracks `Checkout Started` (TRACK 'Checkout Started' v1).

    - `currency`: ISO 4217 currency code.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "order_id": order_id,
            "value": value,
            "currency": currency,
            "products": products,
        },
        (
            "value",
            "currency",
            "products",
        ),
    )
    return await analytics.track(
        event="Checkout Started",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def checkout_started_sync(
    client: Client,
    *,
    order_id: str,
    value: float | None = None,
    currency: Literal["USD", "EUR", "GBP"] | None = None,
    products: Sequence[CartViewedPropertiesProductsItem] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """A user started checking out.

    Tracks `Checkout Started`, through the sync drop-in (TRACK 'Checkout Started' v1).

    - `currency`: ISO 4217 currency code.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "order_id": order_id,
            "value": value,
            "currency": currency,
            "products": products,
        },
        (
            "value",
            "currency",
            "products",
        ),
    )
    return client.track(
        event="Checkout Started",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def coupon_applied(
    analytics: Analytics,
    *,
    order_id: str,
    coupon_id: str,
    coupon_name: str | None = None,
    discount: float | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """A coupon was applied to an order.

    Tracks `Coupon Applied` (TRACK 'Coupon Applied' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "order_id": order_id,
            "coupon_id": coupon_id,
            "coupon_name": coupon_name,
            "discount": discount,
        },
        (
            "coupon_name",
            "discount",
        ),
    )
    return await analytics.track(
        event="Coupon Applied",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def coupon_applied_sync(
    client: Client,
    *,
    order_id: str,
    coupon_id: str,
    coupon_name: str | None = None,
    discount: float | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """A coupon was applied to an order.

    Tracks `Coupon Applied`, through the sync drop-in (TRACK 'Coupon Applied' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "order_id": order_id,
            "coupon_id": coupon_id,
            "coupon_name": coupon_name,
            "discount": discount,
        },
        (
            "coupon_name",
            "discount",
        ),
    )
    return client.track(
        event="Coupon Applied",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def order_completed(
    analytics: Analytics,
    *,
    order_id: str,
    total: float,
    revenue: float,
    currency: Literal["USD", "EUR", "GBP"],
    affiliation: str | None = None,
    shipping: float | None = None,
    tax: float | None = None,
    discount: float | None = None,
    coupon: str | None = None,
    payment_method: Literal["card", "paypal", "invoice"] | None = None,
    products: Sequence[CartViewedPropertiesProductsItem] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """An order was paid for.

    Tracks `Order Completed` (TRACK 'Order Completed' v2).

    - `order_id`: The order's id.
    - `affiliation`: The store or channel the order came through.
    - `total`: Revenue with shipping and tax, minus discounts.
    - `revenue`: Revenue of the products alone.
    - `currency`: ISO 4217 currency code.
    """
    values = _present(
        {
            "order_id": order_id,
            "affiliation": affiliation,
            "total": total,
            "revenue": revenue,
            "shipping": shipping,
            "tax": tax,
            "discount": discount,
            "coupon": coupon,
            "currency": currency,
            "payment_method": payment_method,
            "products": products,
        },
        (
            "affiliation",
            "shipping",
            "tax",
            "discount",
            "coupon",
            "payment_method",
            "products",
        ),
    )
    return await analytics.track(
        event="Order Completed",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=_with_version(context, 2),
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def order_completed_sync(
    client: Client,
    *,
    order_id: str,
    total: float,
    revenue: float,
    currency: Literal["USD", "EUR", "GBP"],
    affiliation: str | None = None,
    shipping: float | None = None,
    tax: float | None = None,
    discount: float | None = None,
    coupon: str | None = None,
    payment_method: Literal["card", "paypal", "invoice"] | None = None,
    products: Sequence[CartViewedPropertiesProductsItem] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """An order was paid for.

    Tracks `Order Completed`, through the sync drop-in (TRACK 'Order Completed' v2).

    - `order_id`: The order's id.
    - `affiliation`: The store or channel the order came through.
    - `total`: Revenue with shipping and tax, minus discounts.
    - `revenue`: Revenue of the products alone.
    - `currency`: ISO 4217 currency code.
    """
    values = _present(
        {
            "order_id": order_id,
            "affiliation": affiliation,
            "total": total,
            "revenue": revenue,
            "shipping": shipping,
            "tax": tax,
            "discount": discount,
            "coupon": coupon,
            "currency": currency,
            "payment_method": payment_method,
            "products": products,
        },
        (
            "affiliation",
            "shipping",
            "tax",
            "discount",
            "coupon",
            "payment_method",
            "products",
        ),
    )
    return client.track(
        event="Order Completed",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=_with_version(context, 2),
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def order_refunded(
    analytics: Analytics,
    *,
    order_id: str,
    amount: float,
    reason: Literal["damaged", "late", "unwanted", "other"] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """An order was refunded, in part or in full.

    Tracks `Order Refunded` (TRACK 'Order Refunded' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "order_id": order_id,
            "amount": amount,
            "reason": reason,
        },
        ("reason",),
    )
    return await analytics.track(
        event="Order Refunded",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def order_refunded_sync(
    client: Client,
    *,
    order_id: str,
    amount: float,
    reason: Literal["damaged", "late", "unwanted", "other"] | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """An order was refunded, in part or in full.

    Tracks `Order Refunded`, through the sync drop-in (TRACK 'Order Refunded' v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "order_id": order_id,
            "amount": amount,
            "reason": reason,
        },
        ("reason",),
    )
    return client.track(
        event="Order Refunded",
        properties=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def identify(
    analytics: Analytics,
    *,
    email: str,
    name: str | None = None,
    plan: Literal["free", "pro", "enterprise"] | None = None,
    created_at: str | datetime.datetime | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """Who the user is.

    Identify call (IDENTIFY v1).

    - `email`: Where we write to them.
    - `created_at`: When they signed up.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "email": email,
            "name": name,
            "plan": plan,
            "created_at": created_at,
        },
        (
            "name",
            "plan",
            "created_at",
        ),
    )
    return await analytics.identify(
        traits=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def identify_sync(
    client: Client,
    *,
    email: str,
    name: str | None = None,
    plan: Literal["free", "pro", "enterprise"] | None = None,
    created_at: str | datetime.datetime | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """Who the user is.

    Identify call, through the sync drop-in (IDENTIFY v1).

    - `email`: Where we write to them.
    - `created_at`: When they signed up.
    """
    values = _present(
        {
            **(extra_properties or {}),
            "email": email,
            "name": name,
            "plan": plan,
            "created_at": created_at,
        },
        (
            "name",
            "plan",
            "created_at",
        ),
    )
    return client.identify(
        traits=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )


async def group(
    analytics: Analytics,
    *,
    name: str,
    group_id: str,
    employees: int | None = None,
    industry: str | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    callback: Callback | None = None,
) -> Context:
    """The account a user belongs to.

    Group call (GROUP v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "name": name,
            "employees": employees,
            "industry": industry,
        },
        (
            "employees",
            "industry",
        ),
    )
    return await analytics.group(
        group_id=group_id,
        traits=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
        callback=callback,
    )


def group_sync(
    client: Client,
    *,
    name: str,
    group_id: str,
    employees: int | None = None,
    industry: str | None = None,
    extra_properties: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime.datetime | str | None = None,
    integrations: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """The account a user belongs to.

    Group call, through the sync drop-in (GROUP v1).
    """
    values = _present(
        {
            **(extra_properties or {}),
            "name": name,
            "employees": employees,
            "industry": industry,
        },
        (
            "employees",
            "industry",
        ),
    )
    return client.group(
        group_id=group_id,
        traits=values,
        user_id=user_id,
        anonymous_id=anonymous_id,
        context=context,
        timestamp=timestamp,
        integrations=integrations,
        message_id=message_id,
    )
