"""The columns each entity's file has, their order, and how headers and requests find them."""

from __future__ import annotations

import pytest

from schemas.codecs import CellError, MinutesCodec, PasswordCodec
from schemas.columns import (
    Column,
    Entity,
    UnknownColumns,
    columns_for,
    find_column,
    optional_columns,
    required_columns,
    select_columns,
)
from schemas.products import Product

NONE: frozenset[Product] = frozenset()
ALL = frozenset(Product)

REQUIRED = {
    Entity.EDUCATORS: [
        "Database ID",
        "First Name",
        "Last Name",
        "Username",
        "Educator Type",
        "Organizations",
    ],
    Entity.STUDENTS: [
        "Database ID",
        "First Name",
        "Last Name",
        "Username",
        "Password",
        "External Assigned ID",
        "Grade",
        "Organizations",
    ],
    Entity.CLASSES: ["Database ID", "Class/Group Name", "Organization"],
}

OPTIONAL_WITHOUT_PRODUCTS = {
    Entity.EDUCATORS: ["External Assigned ID", "Classes/Groups", "Status"],
    Entity.STUDENTS: [
        "Classes/Groups",
        "Status",
        "Birth Date",
        "Gender",
        "Race",
        "Hispanic or Latino",
        "English Learner",
        "Special Education",
        "Economically Disadvantaged",
        "Home Language",
        "Test Text-to-Speech",
        "Test Extended Time",
    ],
    Entity.CLASSES: ["External Assigned ID", "Educators", "Students", "Products", "Status"],
}

ALL_PRODUCT_HEADERS = [
    "Imagine Language & Literacy: Access",
    "Imagine Language & Literacy: Session Time",
    "Imagine Language & Literacy: Language Support",
    "Imagine Español: Access",
    "Imagine Español: Session Time",
    "Imagine Español: Language Support",
    "Imagine Reading: Access",
    "Imagine Reading: Audio Support",
    "Imagine Lectura: Access",
    "Imagine Lectura: Audio Support",
    "Imagine Galileo K-12: Access",
    "Imagine MyPath: Access",
    "Imagine MyPath: Language",
    "Imagine Science: Access",
    "Imagine Science: Language",
    "Imagine Purpose: Access",
    "Imagine Purpose: Language",
]


def headers(columns: tuple[Column, ...]) -> list[str]:
    return [column.header for column in columns]


@pytest.mark.parametrize(
    ("entity", "label"),
    [
        (Entity.EDUCATORS, "Educators"),
        (Entity.STUDENTS, "Students"),
        (Entity.CLASSES, "Classes/Groups"),
    ],
)
def test_each_entity_is_labelled_as_on_the_portal_tabs(entity: Entity, label: str) -> None:
    # given an entity
    # when its label is shown
    # then it reads as the portal's tab
    assert entity.label == label


@pytest.mark.parametrize("entity", list(Entity))
def test_required_columns_come_first_in_the_documented_order(entity: Entity) -> None:
    # given a district without products
    # when an entity's columns are listed
    columns = columns_for(entity, NONE)
    # then the required ones come first, then the optional ones, in the documented order
    assert headers(columns) == REQUIRED[entity] + OPTIONAL_WITHOUT_PRODUCTS[entity]
    assert headers(required_columns(entity)) == REQUIRED[entity]
    assert all(column.required for column in required_columns(entity))
    assert not any(column.required for column in optional_columns(entity, NONE))


def test_student_product_columns_follow_in_product_order_for_every_purchase() -> None:
    # given a district that purchased every product
    # when the student columns are listed
    columns = columns_for(Entity.STUDENTS, ALL)
    # then each product's Access column and settings follow the basic ones, in product order
    assert headers(columns)[len(REQUIRED[Entity.STUDENTS]) + 12 :] == ALL_PRODUCT_HEADERS


def test_product_columns_exist_only_for_purchased_products() -> None:
    # given a district that purchased Imagine Reading and Imagine Language & Literacy,
    # named in an order other than the product order
    purchased = [Product.READING, Product.LANGUAGE_LITERACY]
    # when the optional student columns are listed
    columns = optional_columns(Entity.STUDENTS, purchased)
    # then only those products' columns appear, in product order
    assert [column.header for column in columns if column.product] == [
        "Imagine Language & Literacy: Access",
        "Imagine Language & Literacy: Session Time",
        "Imagine Language & Literacy: Language Support",
        "Imagine Reading: Access",
        "Imagine Reading: Audio Support",
    ]


@pytest.mark.parametrize("entity", [Entity.EDUCATORS, Entity.CLASSES])
def test_only_students_have_product_columns(entity: Entity) -> None:
    # given a district that purchased every product
    # when educator or class/group columns are listed
    # then they are the same as without products
    assert columns_for(entity, ALL) == columns_for(entity, NONE)


def test_session_time_is_one_setting_shared_by_two_products() -> None:
    # given a district with both Imagine Language & Literacy and Imagine Español
    columns = columns_for(Entity.STUDENTS, [Product.LANGUAGE_LITERACY, Product.ESPANOL])
    # when the session time columns are looked up
    session = [column for column in columns if column.header.endswith(": Session Time")]
    # then both write the same student setting, from 5 to 120 minutes
    assert [column.attr for column in session] == ["session_time", "session_time"]
    assert all(column.codec == MinutesCodec(5, 120) for column in session)


@pytest.mark.parametrize(
    ("header", "cell", "value"),
    [
        ("Imagine Reading: Access", "yes", True),
        ("Imagine Language & Literacy: Language Support", "haitian creole", "Haitian Creole"),
        ("Imagine Español: Language Support", "SPANISH", "Spanish"),
        ("Imagine MyPath: Language", "english", "English"),
        ("Imagine Lectura: Audio Support", "No", False),
        ("Imagine Español: Session Time", "45", 45),
    ],
)
def test_product_cells_read_with_the_setting_values(header: str, cell: str, value: object) -> None:
    # given a product column of a district that purchased everything
    column = find_column(Entity.STUDENTS, header, ALL)
    assert column is not None
    # when its cell is imported
    # then it reads as the setting's value
    assert column.codec.from_cell(cell) == value


def test_language_support_refuses_a_language_the_product_does_not_offer() -> None:
    # given Imagine Español, whose language support is English or Spanish only
    column = find_column(Entity.STUDENTS, "Imagine Español: Language Support", ALL)
    assert column is not None
    # when a cell asks for French
    with pytest.raises(CellError) as caught:
        column.codec.from_cell("French")
    # then the allowed languages are listed
    assert caught.value.message == "'French' is not allowed; use one of: English, Spanish."


@pytest.mark.parametrize(
    ("entity", "header", "attr"),
    [
        (Entity.STUDENTS, "database id", "id"),
        (Entity.STUDENTS, "  Birth Date  ", "birth_date"),
        (Entity.STUDENTS, "CLASSES/GROUPS", "classes"),
        (Entity.STUDENTS, "imagine reading: access", "access_reading"),
        (Entity.EDUCATORS, "educator type", "educator_type"),
        (Entity.CLASSES, "class/group name", "name"),
        (Entity.CLASSES, "Organization", "school"),
    ],
)
def test_imported_headers_match_in_any_case_and_with_surrounding_spaces(
    entity: Entity, header: str, attr: str
) -> None:
    # given a header as typed in an uploaded file
    # when its column is looked up
    column = find_column(entity, header, ALL)
    # then it is found
    assert column is not None
    assert column.attr == attr


@pytest.mark.parametrize(
    ("entity", "header"),
    [
        (Entity.STUDENTS, "Imagine Reading: Access"),
        (Entity.STUDENTS, "Nickname"),
        (Entity.CLASSES, "Grade"),
        (Entity.EDUCATORS, "Password"),
    ],
)
def test_headers_that_are_not_columns_here_are_not_found(entity: Entity, header: str) -> None:
    # given a district without products, and a header that is not a column of the entity
    # when it is looked up
    # then nothing is found, so the import reports and ignores it
    assert find_column(entity, header, NONE) is None


def test_export_without_a_choice_writes_every_column() -> None:
    # given no choice of optional columns
    # when the export's columns are selected
    columns = select_columns(Entity.STUDENTS, None, [Product.GALILEO])
    # then every column of the district is written
    assert columns == columns_for(Entity.STUDENTS, [Product.GALILEO])


def test_export_writes_required_and_chosen_columns_in_declaration_order() -> None:
    # given optional columns ticked in another order and case
    chosen = ["imagine galileo k-12: access", "Gender", "Birth Date"]
    # when the export's columns are selected
    columns = select_columns(Entity.STUDENTS, chosen, [Product.GALILEO])
    # then the required columns come first and the chosen ones follow in file order
    assert headers(columns) == [
        *REQUIRED[Entity.STUDENTS],
        "Birth Date",
        "Gender",
        "Imagine Galileo K-12: Access",
    ]


def test_naming_a_required_column_as_optional_is_harmless() -> None:
    # given a request that also names a required column
    # when the export's columns are selected
    columns = select_columns(Entity.CLASSES, ["Database ID", "Students"], NONE)
    # then it is written once, in its place
    assert headers(columns) == [*REQUIRED[Entity.CLASSES], "Students"]


def test_unknown_optional_columns_are_refused_with_the_valid_names() -> None:
    # given a request naming a column that does not exist and one for an unpurchased product
    chosen = ["Students", "Teachers", "Imagine Reading: Access"]
    # when the export's columns are selected
    with pytest.raises(UnknownColumns) as caught:
        select_columns(Entity.CLASSES, chosen, NONE)
    # then the message names each unknown one and lists the valid optional ones
    assert str(caught.value) == (
        "Unknown columns for Classes/Groups: 'Teachers', 'Imagine Reading: Access'. "
        "The optional columns are: External Assigned ID, Educators, Students, Products, Status."
    )
    assert caught.value.unknown == ("Teachers", "Imagine Reading: Access")


def test_a_single_unknown_column_is_named_in_the_singular() -> None:
    # given a request naming one unknown column
    # when the export's columns are selected
    with pytest.raises(UnknownColumns) as caught:
        select_columns(Entity.EDUCATORS, ["Phone"], NONE)
    # then the message reads naturally
    assert str(caught.value) == (
        "Unknown column for Educators: 'Phone'. "
        "The optional columns are: External Assigned ID, Classes/Groups, Status."
    )


@pytest.mark.parametrize("entity", list(Entity))
def test_every_column_has_a_description_for_the_export_dialog(entity: Entity) -> None:
    # given every column of a district that purchased everything
    columns = columns_for(entity, ALL)
    # when the export dialog shows their descriptions
    # then each has one or two sentences
    for column in columns:
        assert column.description.endswith("."), column.header
        assert 1 <= column.description.count(". ") + 1 <= 2, column.header


def test_password_column_is_empty_on_export_and_explains_why() -> None:
    # given the students' Password column
    password = find_column(Entity.STUDENTS, "Password", NONE)
    assert password is not None
    # when it is shown and exported
    # then the description says it is always empty, and no value is ever written
    assert password.description == (
        "Always empty on export; fill in to set a new password (4+ characters, case-sensitive)."
    )
    assert isinstance(password.codec, PasswordCodec)
    assert password.codec.to_cell("secret") == ""


@pytest.mark.parametrize(
    ("entity", "header", "needs_value"),
    [
        (Entity.STUDENTS, "Database ID", False),
        (Entity.STUDENTS, "Password", False),
        (Entity.STUDENTS, "Username", True),
        (Entity.STUDENTS, "Grade", True),
        (Entity.STUDENTS, "Gender", False),
        (Entity.CLASSES, "Organization", True),
    ],
)
def test_required_cells_other_than_id_and_password_need_a_value(
    entity: Entity, header: str, needs_value: bool
) -> None:
    # given a column of an imported file
    column = find_column(entity, header, NONE)
    assert column is not None
    # when the import checks an empty cell
    # then only required cells other than Database ID and Password must be filled
    assert column.value_required is needs_value


@pytest.mark.parametrize(
    ("entity", "header"),
    [
        (Entity.EDUCATORS, "Organizations"),
        (Entity.EDUCATORS, "Classes/Groups"),
        (Entity.STUDENTS, "Organizations"),
        (Entity.STUDENTS, "Classes/Groups"),
        (Entity.CLASSES, "Educators"),
        (Entity.CLASSES, "Students"),
        (Entity.CLASSES, "Products"),
    ],
)
def test_list_columns_are_marked_multi_valued(entity: Entity, header: str) -> None:
    # given a column that holds several names
    column = find_column(entity, header, NONE)
    assert column is not None
    # when the export dialog or the import reads it
    # then it is marked as multi-valued, separated by ';'
    assert column.multi
    assert "';'" in column.description
