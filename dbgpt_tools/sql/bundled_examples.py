"""The question-SQL examples bundled with the sample databases: the idioms a small model gets wrong most (revenue
over the right rows, years from text dates, top-N per group, shares, year-over-year), on questions that are not in
the text-to-SQL dev or test sets. Added at first start; never replaced (a user may delete or add pairs)."""

from __future__ import annotations

import asyncio
import logging

from dbgpt_tools.errors import DbgptError
from dbgpt_tools.sql.examples import ExampleIn, ExampleStore
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME
from dbgpt_tools.sql.sample_logistics import LOGISTICS_DB_NAME

log = logging.getLogger(__name__)
LINE_REVENUE = "oi.quantity * oi.unit_price * (1 - oi.discount)"
SAMPLE_SALES_EXAMPLES = (
    ExampleIn(
        question="What was the revenue from phone orders in 2021?",
        sql=f"SELECT ROUND(SUM({LINE_REVENUE}), 2) AS revenue FROM orders o JOIN order_items oi ON oi.order_id = "
        "o.order_id WHERE o.status <> 'cancelled' AND o.channel = 'phone' AND strftime('%Y', o.order_date) = '2021'",
    ),
    ExampleIn(
        question="Which 2 suppliers sold the most units in each product category?",
        sql="SELECT category, supplier, units FROM (SELECT c.name AS category, s.name AS supplier, SUM(oi.quantity) "
        "AS units, ROW_NUMBER() OVER (PARTITION BY c.category_id ORDER BY SUM(oi.quantity) DESC) AS rank "
        "FROM order_items oi JOIN orders o ON o.order_id = oi.order_id JOIN products p ON p.product_id = "
        "oi.product_id JOIN categories c ON c.category_id = p.category_id JOIN suppliers s ON s.supplier_id = "
        "p.supplier_id WHERE o.status <> 'cancelled' GROUP BY c.category_id, s.supplier_id) WHERE rank <= 2 "
        "ORDER BY category, units DESC",
    ),
    ExampleIn(
        question="What share of orders was placed in the store in each year?",
        sql="SELECT strftime('%Y', order_date) AS year, ROUND(100.0 * SUM(channel = 'store') / COUNT(*), 1) AS "
        "store_share_percent FROM orders GROUP BY year ORDER BY year",
    ),
    ExampleIn(
        question="How did the number of new customer signups change from one year to the next?",
        sql="SELECT year, signups, signups - LAG(signups) OVER (ORDER BY year) AS change FROM (SELECT "
        "strftime('%Y', signup_date) AS year, COUNT(*) AS signups FROM customers GROUP BY year) ORDER BY year",
    ),
    ExampleIn(
        question="Which employees have the same manager as Jessica Moore?",
        sql="SELECT e.first_name, e.last_name FROM employees e JOIN employees m ON e.manager_id = m.manager_id "
        "WHERE m.first_name = 'Jessica' AND m.last_name = 'Moore' AND e.employee_id <> m.employee_id",
    ),
)
SAMPLE_LOGISTICS_EXAMPLES = (
    ExampleIn(
        question="What share of the parcels booked in each year were labelled fragile?",
        sql="SELECT strftime('%Y', s.BookedOn) AS Year, ROUND(100.0 * SUM(p.IsFragile) / COUNT(*), 1) AS "
        "FragilePercent FROM Parcel p JOIN Shipment s ON s.ShipmentID = p.ShipmentID GROUP BY Year ORDER BY Year",
    ),
    ExampleIn(
        question="Which 2 routes of each depot carried the most shipments?",
        sql="SELECT DepotCode, RouteCode, Shipments FROM (SELECT d.DepotCode, r.RouteCode, COUNT(*) AS Shipments, "
        "ROW_NUMBER() OVER (PARTITION BY d.DepotID ORDER BY COUNT(*) DESC) AS Rank FROM Shipment s JOIN Route r "
        "ON r.RouteID = s.RouteID JOIN Depot d ON d.DepotID = r.DepotID GROUP BY d.DepotID, r.RouteID) WHERE "
        "Rank <= 2 ORDER BY DepotCode, Shipments DESC",
    ),
    ExampleIn(
        question="How did the number of incidents change from one year to the next?",
        sql="SELECT Year, Incidents, Incidents - LAG(Incidents) OVER (ORDER BY Year) AS Change FROM (SELECT "
        "strftime('%Y', OccurredAt) AS Year, COUNT(*) AS Incidents FROM Incident GROUP BY Year) ORDER BY Year",
    ),
    ExampleIn(
        question="Which customers in the Healthcare sector sent parcels to addresses served by the Leeds depot?",
        sql="SELECT DISTINCT c.CompanyName FROM Shipment s JOIN Customer c ON c.CustomerID = s.CustomerID JOIN "
        "Address a ON a.AddressID = s.DeliveryAddressID JOIN Depot d ON d.DepotID = a.DepotID WHERE c.Sector = "
        "'Healthcare' AND d.Town = 'Leeds' ORDER BY c.CompanyName",
    ),
)
BUNDLED_EXAMPLES = {SAMPLE_DB_NAME: SAMPLE_SALES_EXAMPLES, LOGISTICS_DB_NAME: SAMPLE_LOGISTICS_EXAMPLES}


def register_bundled_examples(examples: ExampleStore, datasource: str) -> None:
    """Add a bundled database's pairs unless it has pairs already (another worker's, or the user's)."""
    if examples.list(datasource).examples:
        return
    for example in BUNDLED_EXAMPLES[datasource]:
        try:
            asyncio.run(examples.add(datasource, example, source="bundled"))
        except DbgptError:
            log.warning("the bundled example %r does not run on %s", example.question, datasource, exc_info=True)
