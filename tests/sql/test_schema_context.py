"""Ranking and the token-budgeted schema context, on a generated 200+ table business schema."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbgpt_tools.sql.introspection import introspect
from dbgpt_tools.sql.schema_context import (
    OVERVIEW_HEAD,
    estimate_tokens,
    rank_tables,
    schema_context,
    schema_overview,
    whole_schema,
)
from dbgpt_tools.sql.schema_models import (
    ColumnInfo,
    ForeignKeyInfo,
    SchemaInfo,
    TableInfo,
)
from dbgpt_tools.sql.schema_text import render_table

# "table: column, column, fk_column>referenced_table"; every table also gets `id INTEGER PRIMARY KEY`.
DOMAINS = """
hr_departments: name, budget, location, manager_name
hr_employees: first_name, last_name, email, hire_date, salary, department_id>hr_departments
hr_employee_badges: badge_code, issued_at, employee_id>hr_employees
hr_employee_reviews: rating, review_date, summary, employee_id>hr_employees
hr_leave_requests: start_date, end_date, reason, status, employee_id>hr_employees
hr_job_titles: title, grade, description
hr_payroll_runs: period_start, period_end, total_amount, status
hr_payslips: gross_amount, net_amount, payroll_run_id>hr_payroll_runs, employee_id>hr_employees
hr_benefit_plans: name, provider, monthly_cost
hr_benefit_enrollments: enrolled_on, plan_id>hr_benefit_plans, employee_id>hr_employees
hr_training_courses: title, hours, vendor
hr_training_sessions: session_date, room, course_id>hr_training_courses
hr_candidates: full_name, email, source, status
hr_interviews: interview_date, outcome, candidate_id>hr_candidates
hr_offices: city, country, address
pm_projects: name, code, start_date, end_date, budget, status
pm_project_milestones: title, due_date, done, project_id>pm_projects
pm_project_budgets: fiscal_year, amount, project_id>pm_projects
pm_project_notes: body, written_at, project_id>pm_projects
pm_staffing: role, allocation_pct, employee_id>hr_employees, project_id>pm_projects
pm_tasks: title, priority, status, project_id>pm_projects
pm_task_comments: body, posted_at, task_id>pm_tasks
pm_timesheets: work_date, hours, task_id>pm_tasks
pm_risks: description, severity, likelihood
pm_sprints: name, start_date, end_date
crm_customers: company_name, contact_name, email, phone, city, country, segment
crm_customer_notes: body, noted_at, customer_id>crm_customers
crm_customer_segments: name, description, min_revenue
crm_leads: full_name, email, source, score
crm_opportunities: title, stage, expected_amount, close_date, customer_id>crm_customers
crm_campaigns: name, channel, start_date, spend
crm_campaign_members: joined_at, response, campaign_id>crm_campaigns, lead_id>crm_leads
crm_contacts: first_name, last_name, title, email, customer_id>crm_customers
crm_activities: activity_type, happened_at, subject
crm_territories: name, region
crm_accounts_managers: full_name, email, territory_id>crm_territories
crm_call_logs: called_at, duration_seconds, outcome
sales_orders: order_date, status, total_amount, customer_id>crm_customers
sales_order_lines: quantity, unit_price, discount, order_id>sales_orders, product_id>inventory_products
sales_returns: return_date, reason, order_id>sales_orders
sales_quotes: quote_date, valid_until, total_amount
sales_price_lists: name, currency, valid_from
sales_price_list_items: price, price_list_id>sales_price_lists, product_id>inventory_products
sales_discount_codes: code, percent_off, expires_at
sales_commissions: amount, paid_at, rep_name
sales_targets: quarter, target_amount, region
sales_channels: name, description
inventory_products: sku, name, description, unit_price, weight_kg, category_id>inventory_categories
inventory_categories: name, description
inventory_warehouses: name, city, capacity
inventory_stock_levels: quantity, updated_at, product_id>inventory_products, warehouse_id>inventory_warehouses
inventory_stock_movements: moved_at, quantity, movement_type, product_id>inventory_products
inventory_bins: code, aisle, warehouse_id>inventory_warehouses
inventory_cycle_counts: counted_at, counted_quantity, bin_id>inventory_bins
inventory_product_images: url, alt_text, product_id>inventory_products
inventory_product_reviews: rating, review_text, product_id>inventory_products
inventory_units: code, description
inventory_reorder_rules: min_quantity, max_quantity, product_id>inventory_products
procurement_suppliers: name, contact_email, country, rating
procurement_supplier_contacts: full_name, phone, supplier_id>procurement_suppliers
procurement_supplier_ratings: score, rated_at, supplier_id>procurement_suppliers
procurement_sourcing: lead_time_days, preferred, supplier_id>procurement_suppliers, product_id>inventory_products
procurement_purchase_orders: ordered_at, status, total_amount, supplier_id>procurement_suppliers
procurement_po_lines: quantity, unit_cost, purchase_order_id>procurement_purchase_orders
procurement_requisitions: requested_at, requester, status
procurement_contracts: start_date, end_date, terms, supplier_id>procurement_suppliers
procurement_invoices_received: invoice_number, amount, due_date
procurement_categories: name, parent_name
finance_accounts: code, name, account_type
finance_journal_entries: posted_at, memo, reference
finance_journal_lines: debit, credit, entry_id>finance_journal_entries, account_id>finance_accounts
finance_invoices: invoice_number, issued_at, due_date, amount, status, customer_id>crm_customers
finance_invoice_lines: description, amount, invoice_id>finance_invoices
finance_payments: paid_at, amount, method, invoice_id>finance_invoices
finance_budgets: fiscal_year, amount, department_id>hr_departments
finance_cost_centers: code, name, owner
finance_currencies: code, name, symbol
finance_exchange_rates: rate_date, rate, currency_id>finance_currencies
finance_tax_rates: region, rate, valid_from
finance_bank_accounts: bank_name, iban, currency
finance_bank_transactions: booked_at, amount, counterparty, bank_account_id>finance_bank_accounts
finance_expense_reports: submitted_at, total, status, employee_id>hr_employees
finance_expense_items: spent_at, amount, category, report_id>finance_expense_reports
logistics_carriers: name, scac_code, phone
logistics_shipments: shipped_at, delivered_at, tracking_number, status, carrier_id>logistics_carriers
logistics_shipment_items: quantity, shipment_id>logistics_shipments
logistics_routes: origin_city, destination_city, distance_km
logistics_vehicles: plate_number, model, capacity_kg
logistics_drivers: full_name, license_number, phone
logistics_deliveries: planned_at, completed_at, driver_id>logistics_drivers, vehicle_id>logistics_vehicles
logistics_depots: name, city, country
logistics_fuel_logs: filled_at, liters, cost, vehicle_id>logistics_vehicles
logistics_customs_declarations: declared_at, hs_code, value
logistics_packages: weight_kg, length_cm, barcode
logistics_tracking_events: event_time, location, description
edu_students: first_name, last_name, email, enrolled_year, major
edu_courses: code, title, credits, level
edu_enrollments: enrolled_on, final_grade, student_id>edu_students, course_id>edu_courses
edu_course_materials: title, url, course_id>edu_courses
edu_course_reviews: rating, comment_text, course_id>edu_courses
edu_student_clubs: name, founded_year
edu_instructors: full_name, email, office
edu_classrooms: building, room_number, seats
edu_semesters: name, start_date, end_date
edu_exams: exam_date, duration_minutes, title
edu_scholarships: name, amount, sponsor
edu_library_loans: borrowed_at, returned_at, book_title
edu_alumni: graduation_year, employer, city
clinic_patients: first_name, last_name, birth_date, insurance_number, city
clinic_doctors: full_name, specialty, license_number
clinic_visits: visit_date, diagnosis, fee, patient_id>clinic_patients, doctor_id>clinic_doctors
clinic_doctor_schedules: weekday, start_time, end_time
clinic_patient_allergies: allergen, severity
clinic_prescriptions: drug_name, dosage, issued_at
clinic_rooms: name, floor, room_type
clinic_lab_results: test_name, result_value, taken_at
clinic_insurers: name, phone, plan_type
clinic_appointments_waitlist: requested_at, urgency, note
clinic_medical_devices: name, serial_number, last_service
clinic_billing_codes: code, description, price
support_tickets: subject, priority, status, opened_at, customer_id>crm_customers
support_ticket_comments: body, posted_at, ticket_id>support_tickets
support_agents: full_name, email, team
support_sla_policies: name, response_hours, resolution_hours
support_knowledge_articles: title, body, views
support_satisfaction_surveys: score, comment_text, answered_at
support_escalations: escalated_at, level, reason
support_macros: name, body
support_queues: name, description
support_chat_sessions: started_at, ended_at, channel
marketing_newsletters: subject, sent_at, audience
marketing_newsletter_clicks: clicked_at, url, newsletter_id>marketing_newsletters
marketing_ad_groups: name, platform, daily_budget
marketing_ad_spend: spend_date, amount, ad_group_id>marketing_ad_groups
marketing_landing_pages: url, title, conversions
marketing_utm_sources: source, medium, campaign_name
marketing_social_posts: posted_at, network, likes
marketing_brand_assets: name, file_url, asset_type
marketing_events: name, event_date, city, attendees
marketing_webinars: title, held_at, registrations
it_assets: asset_tag, model, purchased_at, owner_name
it_licenses: product_name, seats, expires_at
it_incidents: title, severity, opened_at, resolved_at
it_changes: title, risk, scheduled_at
it_servers: hostname, ip_address, os, datacenter
it_backups: started_at, size_gb, status, server_id>it_servers
it_user_accounts: username, email, last_login
it_access_grants: granted_at, role_name, user_account_id>it_user_accounts
it_vulnerabilities: cve_id, score, found_at
it_network_devices: hostname, vendor, location
manufacturing_work_orders: planned_start, quantity, status
manufacturing_bills_of_materials: component_name, quantity, unit
manufacturing_machines: name, line, installed_at
manufacturing_downtime_events: started_at, minutes, cause, machine_id>manufacturing_machines
manufacturing_quality_checks: checked_at, passed, defect_type
manufacturing_shifts: name, start_time, end_time
manufacturing_operators: full_name, certification
manufacturing_scrap_logs: logged_at, quantity, reason
manufacturing_routings: step_number, operation, minutes
manufacturing_tooling: name, wear_pct
realestate_properties: address, city, bedrooms, list_price, status
realestate_agents: full_name, phone, agency
realestate_listings: listed_at, asking_price, property_id>realestate_properties, agent_id>realestate_agents
realestate_viewings: viewed_at, feedback, listing_id>realestate_listings
realestate_leases: start_date, end_date, monthly_rent, property_id>realestate_properties
realestate_tenants: full_name, email, phone
realestate_maintenance_requests: requested_at, issue, status
realestate_inspections: inspected_at, inspector, result
events_venues: name, city, capacity
events_concerts: title, concert_date, artist_name, venue_id>events_venues
events_ticket_sales: sold_at, price, seat, concert_id>events_concerts, customer_id>crm_customers
events_artists_riders: artist_name, requirements
events_sponsors: name, tier, amount
events_volunteers: full_name, phone, shift
events_merch_items: name, price, stock
events_press_passes: outlet, journalist, issued_at
travel_bookings: booked_at, check_in, check_out, total_price
travel_hotels: name, city, stars
travel_flights: flight_number, departure_at, arrival_at, origin, destination
travel_travelers: full_name, passport_number, nationality
travel_loyalty_accounts: program, points, tier
travel_car_rentals: pickup_at, return_at, company
travel_itineraries: title, created_at, notes
travel_visa_applications: country, submitted_at, status
fleet_trucks: plate, make, year_built
fleet_maintenance_jobs: job_date, cost, description, truck_id>fleet_trucks
fleet_tire_changes: changed_at, position, brand
fleet_gps_pings: pinged_at, latitude, longitude
fleet_inspections: inspected_at, passed, inspector
legal_contracts: title, signed_at, counterparty, value
legal_cases: case_number, opened_at, court, status
legal_case_documents: title, filed_at, case_id>legal_cases
legal_lawyers: full_name, bar_number, firm
legal_hearings: hearing_date, judge, outcome
legal_compliance_audits: audited_at, area, findings
legal_policies: name, version, effective_from
legal_nda_records: party, signed_at, expires_at
crm_customer_feedback: feedback_text, received_at, customer_id>crm_customers
events_concert_reviews: rating, review_text, concert_id>events_concerts
edu_student_loans: amount, lender, student_id>edu_students
clinic_patient_surveys: score, answered_at, patient_id>clinic_patients
procurement_supplier_audits: audited_at, result, supplier_id>procurement_suppliers
inventory_product_bundles: name, bundle_price
pm_project_documents: title, url, project_id>pm_projects
hr_employee_emergency_contacts: contact_name, phone, employee_id>hr_employees
"""

QUESTIONS = [
    ("Which employees are assigned to the Apollo project?", {"hr_employees", "pm_projects", "pm_staffing"}),
    ("List the courses each student is enrolled in", {"edu_students", "edu_courses", "edu_enrollments"}),
    ("Which doctors saw the patient named Smith?", {"clinic_doctors", "clinic_patients", "clinic_visits"}),
    ("Which suppliers can deliver the product 'Widget'?", {"procurement_suppliers", "inventory_products",
                                                            "procurement_sourcing"}),
    ("How many tickets did each customer buy for concerts in Berlin?", {"crm_customers", "events_concerts",
                                                                        "events_ticket_sales"}),
]  # fmt: skip


def _column_type(name: str) -> str:
    if name.endswith("_id"):
        return "INTEGER"
    if name.endswith(("_at", "_date", "_on")) or name in {"check_in", "check_out", "last_login", "last_service"}:
        return "DATE"
    if re.search(r"amount|price|salary|budget|cost|rate|spend|fee|total|debit|credit|value|rent|liters", name):
        return "REAL"
    if re.search(r"quantity|hours|seats|capacity|year|score|rating|points|minutes|stars|bedrooms|credits", name):
        return "INTEGER"
    return "TEXT"


def _sample(table: str, column: str, kind: str, row: int) -> object:
    if kind == "INTEGER":
        return row + 1 if column.endswith("_id") else (row + 1) * 3
    if kind == "REAL":
        return round(12.5 * (row + 1), 2)
    if kind == "DATE":
        return f"2024-0{row + 1}-1{row}"
    return f"{column.replace('_', ' ')} {row + 1}"


def build_business_db(path: Path) -> list[str]:
    """A SQLite database with the tables of `DOMAINS` (3 rows each); returns the table names in order."""
    specs = []
    for line in DOMAINS.strip().splitlines():
        table, listed = line.split(":", 1)
        specs.append((table.strip(), [part.strip() for part in listed.split(",")]))
    conn = sqlite3.connect(path)
    for table, columns in specs:
        defs, names = ["id INTEGER PRIMARY KEY"], []
        for column in columns:
            name, _, ref = column.partition(">")
            defs.append(f"{name} {_column_type(name)}" + (f" REFERENCES {ref}(id)" if ref else ""))
            names.append(name)
        conn.execute(f"CREATE TABLE {table} (\n  " + ",\n  ".join(defs) + "\n)")
        rows = [[_sample(table, name, _column_type(name), row) for name in names] for row in range(3)]
        conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
    conn.commit()
    conn.close()
    return [table for table, _ in specs]


@pytest.fixture(scope="module")
def business(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sa.Engine, list[str]]]:
    path = tmp_path_factory.mktemp("business") / "business.db"
    names = build_business_db(path)
    engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    yield engine, names
    engine.dispose()


@pytest.fixture(scope="module")
def big_schema(business: tuple[sa.Engine, list[str]]) -> SchemaInfo:
    return introspect(business[0], "business")


def _shown_tables(context: str) -> list[str]:
    return re.findall(r"^CREATE TABLE (\S+) \(", context, flags=re.MULTILINE)


def test_generated_schema_is_large(big_schema: SchemaInfo) -> None:
    assert len(big_schema.tables) >= 200
    full = "\n".join(render_table(table) for table in big_schema.tables)
    assert estimate_tokens(full) > 10 * 1500  # far over the budget: the ranking has to choose


@pytest.mark.parametrize("budget", [1500, 500])
@pytest.mark.parametrize(("question", "relevant"), QUESTIONS)
def test_relevant_tables_kept_within_budget(
    big_schema: SchemaInfo, question: str, relevant: set[str], budget: int
) -> None:
    context = schema_context(big_schema, question, max_tokens=budget)
    assert estimate_tokens(context) <= budget
    shown = _shown_tables(context)
    assert relevant <= set(shown), (question, shown[:10])
    assert len(shown) < len(big_schema.tables)
    omitted = len(big_schema.tables) - len(shown)
    assert context.splitlines()[-1].startswith(f"-- {omitted} more tables not shown")


@pytest.mark.parametrize(("question", "relevant"), QUESTIONS)
def test_relevant_tables_rank_first(big_schema: SchemaInfo, question: str, relevant: set[str]) -> None:
    ranked = [table.name for table, _ in rank_tables(big_schema, question)]
    assert set(ranked[:3]) == relevant, ranked[:10]


def test_join_table_comes_from_its_foreign_keys(big_schema: SchemaInfo) -> None:
    """pm_staffing shares no word with the question's table words: only its two FKs lift it over look-alikes."""
    scores = dict((table.name, score) for table, score in rank_tables(big_schema, "employees on the Apollo project"))
    assert scores["pm_staffing"] > scores["hr_employee_badges"]
    assert scores["pm_staffing"] > scores["pm_project_notes"]
    assert scores["pm_staffing"] > scores["pm_tasks"]


def test_context_is_deterministic_and_in_rank_order(big_schema: SchemaInfo) -> None:
    question = QUESTIONS[0][0]
    first = schema_context(big_schema, question)
    assert first == schema_context(big_schema, question)
    ranked = [table.name for table, _ in rank_tables(big_schema, question)]
    shown = _shown_tables(first)
    assert shown == sorted(shown, key=ranked.index)


def test_tight_budget_degrades_before_dropping(big_schema: SchemaInfo) -> None:
    """With little room tables lose samples, then columns, before a relevant one is dropped; the top one stays."""
    question, relevant = QUESTIONS[1]
    context = schema_context(big_schema, question, max_tokens=150)
    assert estimate_tokens(context) <= 150
    assert relevant <= set(_shown_tables(context))
    assert "e.g." not in context
    tighter = schema_context(big_schema, question, max_tokens=100)
    assert estimate_tokens(tighter) <= 100
    assert "more column" in tighter and "edu_students" in _shown_tables(tighter)
    tiny = schema_context(big_schema, question, max_tokens=40)
    assert _shown_tables(tiny) == [rank_tables(big_schema, question)[0][0].name]


def test_no_question_keeps_schema_order(big_schema: SchemaInfo) -> None:
    context = schema_context(big_schema, None, max_tokens=800)
    assert estimate_tokens(context) <= 800
    shown = _shown_tables(context)
    assert shown == [table.name for table in big_schema.tables[: len(shown)]]


def _small_schema() -> SchemaInfo:
    customers = TableInfo(
        name="customers",
        row_estimate=3,
        columns=[
            ColumnInfo(name="id", type="INTEGER", nullable=False, primary_key=True),
            ColumnInfo(name="name", type="TEXT", samples=["Ann", "Bob"]),
        ],
    )
    orders = TableInfo(
        name="orders",
        comment="customer orders",
        row_estimate=5000,
        columns=[
            ColumnInfo(name="id", type="INTEGER", nullable=False, primary_key=True),
            ColumnInfo(name="customer_id", type="INTEGER"),
            ColumnInfo(name="status", type="TEXT", samples=["shipped", "pending"]),
        ],
        foreign_keys=[ForeignKeyInfo(columns=["customer_id"], ref_table="customers", ref_columns=["id"])],
    )
    return SchemaInfo(db_name="shop", dialect="sqlite", tables=[orders, customers])


def test_small_schema_renders_everything_in_schema_order() -> None:
    schema = _small_schema()
    expected = "\n".join(render_table(table, dialect="sqlite") for table in schema.tables)
    for question in (None, "list customers", "orders shipped"):
        assert schema_context(schema, question) == expected
    assert "more tables" not in expected
    assert _shown_tables(expected) == ["orders", "customers"]


def test_ranking_normalises_words() -> None:
    schema = SchemaInfo(
        db_name="x",
        dialect="sqlite",
        tables=[
            TableInfo(name="audit_log", columns=[ColumnInfo(name="id", type="INTEGER")]),
            TableInfo(name="ProductCategory", columns=[ColumnInfo(name="id", type="INTEGER")]),
            TableInfo(name="order_status", columns=[ColumnInfo(name="code", type="TEXT", samples=["shipped"])]),
            TableInfo(name="staff_member", columns=[ColumnInfo(name="id", type="INTEGER")]),
        ],
    )
    assert rank_tables(schema, "product categories")[0][0].name == "ProductCategory"
    assert rank_tables(schema, "orders that shipped")[0][0].name == "order_status"
    scores = dict((t.name, s) for t, s in rank_tables(schema, "product categories"))
    assert scores["audit_log"] == 0.0


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abc") == 1
    assert estimate_tokens("x" * 35) == 10
    assert estimate_tokens("x" * 36) == 11


def test_introspect_and_context_of_200_tables_is_fast(business: tuple[sa.Engine, list[str]]) -> None:
    engine, names = business
    start = time.process_time()  # CPU time: the work done, whatever else the machine is doing
    schema = introspect(engine, "business")
    context = schema_context(schema, "Which employees are assigned to the Apollo project?")
    elapsed = time.process_time() - start
    assert [table.name for table in schema.tables] == sorted(names)
    assert "pm_staffing" in context
    assert elapsed < 3.0, elapsed


def test_the_overview_names_every_table_and_column_the_same_for_every_question(big_schema: SchemaInfo) -> None:
    assert whole_schema(big_schema, 1500) is None  # too large in full
    overview = schema_overview(big_schema, 10_000)
    assert overview is not None and overview.startswith(OVERVIEW_HEAD)
    lines = overview.removeprefix(OVERVIEW_HEAD).splitlines()
    assert [line.split("(", 1)[0].strip('"') for line in lines] == [table.name for table in big_schema.tables]
    for table, line in zip(big_schema.tables, lines, strict=True):
        assert all(column.name in line for column in table.columns)
        for fk in table.foreign_keys:
            assert f"-> {fk.ref_table}" in line or f'-> "{fk.ref_table}"' in line
    assert schema_overview(big_schema, estimate_tokens(overview) - 1) is None  # within its budget, or nothing
