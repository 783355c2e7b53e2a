"""The columns of each entity's CSV file: header, what it maps to, and how its cells read.

Each entity declares its columns once, required ones first, in the order the export writes
them. Product columns of students exist only for the products the district purchased, in
`Product` order: `<Product>: Access`, then that product's settings. `Session Time` appears
under both Imagine Language & Literacy and Imagine Español with the same `attr`, because the
student has one session time for both; an import reading both must reconcile them.

`Column.attr` names a model attribute (`storage.models`), except for a few that the import
and export handle themselves: `id` (Database ID), `password` (hashed on import, never
exported), `schools`, `school`, `classes`, `educators`, `students` and `products` (names or
usernames of related records).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from schemas.codecs import (
    ChoiceCodec,
    Codec,
    DatabaseIdCodec,
    DateCodec,
    EmailCodec,
    ExternalIdCodec,
    GradeCodec,
    ListCodec,
    MinutesCodec,
    PasswordCodec,
    ProductListCodec,
    StatusCodec,
    StudentUsernameCodec,
    TextCodec,
    YesNoCodec,
)
from schemas.products import (
    SESSION_TIME_DEFAULT,
    SESSION_TIME_MAX,
    SESSION_TIME_MIN,
    Product,
    ProductSetting,
    settings_of,
)

BASIC = "basic"
DEMOGRAPHICS = "demographics"
TEST_SETTINGS = "test settings"
PRODUCT = "product"

NAME_LENGTH = 100
GROUP_NAME_LENGTH = 200

# Cells of these columns may be empty even though the column is required: an empty Database
# ID creates a record, an empty Password leaves the password unchanged.
_MAY_BE_EMPTY = frozenset({"id", "password"})


class Entity(Enum):
    """What a CSV file holds; the value is the name used in requests and URLs."""

    EDUCATORS = "educators"
    STUDENTS = "students"
    CLASSES = "classes"

    @property
    def label(self) -> str:
        """The name shown to users, as on the portal's tabs."""
        return _LABELS[self]


_LABELS = {
    Entity.EDUCATORS: "Educators",
    Entity.STUDENTS: "Students",
    Entity.CLASSES: "Classes/Groups",
}


@dataclass(frozen=True)
class Column:
    """One column of an entity's file.

    `required` columns are always exported and must be present in an imported file.
    `description` is shown when hovering the column in the export dialog. `multi` cells hold
    several values separated by ';'.
    """

    header: str
    attr: str
    required: bool
    description: str
    codec: Codec[Any]
    group: str
    product: Product | None = None
    multi: bool = False
    empty: Any = None  # what an empty cell means on import: None clears, False for Access

    @property
    def value_required(self) -> bool:
        """Whether an imported row must fill this cell (the Database ID and Password need not)."""
        return self.required and self.attr not in _MAY_BE_EMPTY


class UnknownColumns(ValueError):
    """Some requested columns are not optional columns of this entity for this district."""

    def __init__(self, entity: Entity, unknown: Iterable[str], valid: Iterable[str]) -> None:
        self.entity = entity
        self.unknown = tuple(unknown)
        self.valid = tuple(valid)
        names = ", ".join(f"'{name}'" for name in self.unknown)
        noun = "column" if len(self.unknown) == 1 else "columns"
        super().__init__(
            f"Unknown {noun} for {entity.label}: {names}. "
            f"The optional columns are: {', '.join(self.valid)}."
        )


def _database_id() -> Column:
    return Column(
        "Database ID",
        "id",
        True,
        "Assigned by the portal; do not edit. Leave empty to create a new record.",
        DatabaseIdCodec(),
        BASIC,
    )


def _name(header: str, attr: str, whose: str) -> Column:
    return Column(
        header,
        attr,
        True,
        f"The {whose}'s {header.lower()}, up to {NAME_LENGTH} characters.",
        TextCodec(NAME_LENGTH),
        BASIC,
    )


def _status(whose: str) -> Column:
    """Deactivation from a spreadsheet: an Inactive record leaves exports unless they ask
    for inactive records too, and keeps its username and IDs reserved."""
    return Column(
        "Status",
        "active",
        False,
        f"Active or Inactive: an inactive {whose} leaves exports (unless inactive records are "
        "asked for) but keeps its username and IDs reserved and its history; empty means Active.",
        StatusCodec(),
        BASIC,
        empty=True,
    )


def _external_id(required: bool, whose: str) -> Column:
    return Column(
        "External Assigned ID",
        "external_id",
        required,
        f"Your own ID for the {whose}, such as the SIS ID (1 to 64 characters); not shown in "
        "reports. Format the column as Text so a spreadsheet keeps it unchanged.",
        ExternalIdCodec(),
        BASIC,
    )


def _organizations(whose: str) -> Column:
    return Column(
        "Organizations",
        "schools",
        True,
        f"The {whose}'s schools, as named in the portal; separate several with ';'.",
        ListCodec(TextCodec(GROUP_NAME_LENGTH)),
        BASIC,
        multi=True,
    )


def _classes(whose: str) -> Column:
    return Column(
        "Classes/Groups",
        "classes",
        False,
        f"The {whose}'s classes/groups, as named in the portal; separate several with ';'.",
        ListCodec(TextCodec(GROUP_NAME_LENGTH)),
        BASIC,
        multi=True,
    )


def _yes_no(header: str, attr: str, description: str, group: str) -> Column:
    return Column(header, attr, False, description, YesNoCodec(), group)


_EDUCATOR_COLUMNS = (
    _database_id(),
    _name("First Name", "first_name", "educator"),
    _name("Last Name", "last_name", "educator"),
    Column(
        "Username",
        "username",
        True,
        "The educator's email address, used to sign in; unique in the district "
        "(not case-sensitive).",
        EmailCodec(),
        BASIC,
    ),
    Column(
        "Educator Type",
        "educator_type",
        True,
        "Admin or Teacher (Administrator is also accepted).",
        ChoiceCodec(("Admin", "Teacher"), aliases=(("Administrator", "Admin"),)),
        BASIC,
    ),
    _organizations("educator"),
    _external_id(False, "educator"),
    _classes("educator"),
    _status("educator"),
)

_STUDENT_BASIC_COLUMNS = (
    _database_id(),
    _name("First Name", "first_name", "student"),
    _name("Last Name", "last_name", "student"),
    Column(
        "Username",
        "username",
        True,
        "3 to 100 characters without spaces or ';'; unique in the district (not case-sensitive).",
        StudentUsernameCodec(),
        BASIC,
    ),
    Column(
        "Password",
        "password",
        True,
        "Always empty on export; fill in to set a new password (4+ characters, case-sensitive).",
        PasswordCodec(),
        BASIC,
    ),
    _external_id(True, "student"),
    Column(
        "Grade",
        "grade",
        True,
        "PK, K or 1 to 12 (Pre-K, KG, Kindergarten and 01 to 09 are also accepted).",
        GradeCodec(),
        BASIC,
    ),
    _organizations("student"),
    _classes("student"),
    _status("student"),
)

_STUDENT_DEMOGRAPHIC_COLUMNS = (
    Column(
        "Birth Date",
        "birth_date",
        False,
        "Written as YYYY-MM-DD; M/D/YYYY with a four-digit year is also accepted.",
        DateCodec(),
        DEMOGRAPHICS,
    ),
    Column(
        "Gender",
        "gender",
        False,
        "F, M or X.",
        ChoiceCodec(("F", "M", "X"), aliases=(("Female", "F"), ("Male", "M"))),
        DEMOGRAPHICS,
    ),
    Column(
        "Race",
        "race",
        False,
        "Free text, up to 100 characters.",
        TextCodec(NAME_LENGTH),
        DEMOGRAPHICS,
    ),
    _yes_no("Hispanic or Latino", "hispanic_or_latino", "Yes or No.", DEMOGRAPHICS),
    _yes_no(
        "English Learner",
        "english_learner",
        "Yes or No: the student is learning English.",
        DEMOGRAPHICS,
    ),
    _yes_no(
        "Special Education",
        "special_education",
        "Yes or No: the student receives special education services.",
        DEMOGRAPHICS,
    ),
    _yes_no("Economically Disadvantaged", "economically_disadvantaged", "Yes or No.", DEMOGRAPHICS),
    Column(
        "Home Language",
        "home_language",
        False,
        "The language spoken at the student's home, such as Spanish.",
        TextCodec(NAME_LENGTH),
        DEMOGRAPHICS,
    ),
    _yes_no(
        "Test Text-to-Speech",
        "test_text_to_speech",
        "Yes or No: test questions can be read aloud to the student.",
        TEST_SETTINGS,
    ),
    _yes_no(
        "Test Extended Time",
        "test_extended_time",
        "Yes or No: the student gets extended time on tests.",
        TEST_SETTINGS,
    ),
)

_CLASS_COLUMNS = (
    _database_id(),
    Column(
        "Class/Group Name",
        "name",
        True,
        f"Unique in the district, up to {GROUP_NAME_LENGTH} characters, without ';'.",
        TextCodec(GROUP_NAME_LENGTH, allow_semicolon=False),
        BASIC,
    ),
    Column(
        "Organization",
        "school",
        True,
        "The one school the class/group belongs to, as named in the portal.",
        TextCodec(GROUP_NAME_LENGTH),
        BASIC,
    ),
    _external_id(False, "class/group"),
    Column(
        "Educators",
        "educators",
        False,
        "Usernames (emails) of the educators assigned to the class/group; separate several "
        "with ';'.",
        ListCodec(EmailCodec()),
        BASIC,
        multi=True,
    ),
    Column(
        "Students",
        "students",
        False,
        "Usernames of the students in the class/group; separate several with ';'.",
        ListCodec(StudentUsernameCodec()),
        BASIC,
        multi=True,
    ),
    Column(
        "Products",
        "products",
        False,
        "Products the class/group uses, named as in the headers (such as Imagine Reading); "
        "separate several with ';'.",
        ProductListCodec(),
        BASIC,
        multi=True,
    ),
    _status("class/group"),
)


def _access_column(product: Product) -> Column:
    description = f"Yes or No: the student can use {product.value}."
    if product.access_locked:
        description += " Once given, access can only be removed by Customer Care."
    return Column(
        f"{product.value}: Access",
        product.access_attr,
        False,
        description,
        YesNoCodec(),
        PRODUCT,
        product=product,
        empty=False,
    )


def _setting_codec(setting: ProductSetting) -> Codec[Any]:
    if setting.kind == "minutes":
        return MinutesCodec(SESSION_TIME_MIN, SESSION_TIME_MAX)
    if setting.kind == "yes_no":
        return YesNoCodec()
    if setting.kind == "choice":
        return ChoiceCodec(setting.choices)
    raise ValueError(f"unknown product setting kind {setting.kind!r} for {setting.header}")


def _setting_description(setting: ProductSetting) -> str:
    if setting.kind == "minutes":
        return (
            f"Minutes per session before the student is signed out, {SESSION_TIME_MIN} to "
            f"{SESSION_TIME_MAX} (default {SESSION_TIME_DEFAULT}); one value shared by "
            f"{Product.LANGUAGE_LITERACY.value} and {Product.ESPANOL.value}."
        )
    if setting.kind == "yes_no":
        return "Yes or No: audio support in the student's first language."
    choices = ", ".join(setting.choices)
    if setting.name == "Language Support":
        return f"Language of the audio support for instructions, one of: {choices}."
    return f"Language the student uses {setting.product.value} in, one of: {choices}."


def _setting_column(setting: ProductSetting) -> Column:
    return Column(
        setting.header,
        setting.attr,
        False,
        _setting_description(setting),
        _setting_codec(setting),
        PRODUCT,
        product=setting.product,
    )


_PRODUCT_COLUMNS = {
    product: (_access_column(product), *map(_setting_column, settings_of(product)))
    for product in Product
}

_DECLARED = {
    Entity.EDUCATORS: _EDUCATOR_COLUMNS,
    Entity.STUDENTS: _STUDENT_BASIC_COLUMNS + _STUDENT_DEMOGRAPHIC_COLUMNS,
    Entity.CLASSES: _CLASS_COLUMNS,
}


def required_columns(entity: Entity) -> tuple[Column, ...]:
    """The columns every file of this entity has, in export order."""
    return tuple(column for column in _DECLARED[entity] if column.required)


def optional_columns(entity: Entity, purchased: Collection[Product]) -> tuple[Column, ...]:
    """The columns a user may add, in export order; product ones only for purchased products."""
    declared = tuple(column for column in _DECLARED[entity] if not column.required)
    if entity is not Entity.STUDENTS:
        return declared
    products = tuple(
        column
        for product in Product
        if product in purchased
        for column in _PRODUCT_COLUMNS[product]
    )
    return declared + products


def columns_for(entity: Entity, purchased: Collection[Product]) -> tuple[Column, ...]:
    """Every column of this entity for this district: required ones first, then optional."""
    return required_columns(entity) + optional_columns(entity, purchased)


def _header_key(header: str) -> str:
    return header.strip().casefold()


def find_column(entity: Entity, header: str, purchased: Collection[Product]) -> Column | None:
    """The column an imported header names (any case, surrounding spaces ignored), if any."""
    key = _header_key(header)
    return next(
        (column for column in columns_for(entity, purchased) if _header_key(column.header) == key),
        None,
    )


def select_columns(
    entity: Entity, optional: Iterable[str] | None, purchased: Collection[Product]
) -> tuple[Column, ...]:
    """The columns an export writes: the required ones plus the named optional ones.

    `optional=None` means every optional column. Names match like imported headers. Naming a
    required column is harmless (it is written anyway); naming anything else that is not an
    optional column of this entity for this district raises `UnknownColumns`.
    """
    choosable = optional_columns(entity, purchased)
    if optional is None:
        return required_columns(entity) + choosable
    wanted = {_header_key(name): name for name in optional}
    known = {_header_key(column.header) for column in columns_for(entity, purchased)}
    unknown = [name for key, name in wanted.items() if key not in known]
    if unknown:
        raise UnknownColumns(entity, unknown, (column.header for column in choosable))
    chosen = tuple(column for column in choosable if _header_key(column.header) in wanted)
    return required_columns(entity) + chosen
