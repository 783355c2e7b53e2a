"""The portal's products, as their names appear in CSV headers, and their per-student settings.

A student's access to a product and each setting are columns of the student record
(`access_<code>` and the setting's attribute), so an export reads one row per student.
`Session Time` is one value shared by Imagine Language & Literacy and Imagine Español.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

ILL_LANGUAGES = (
    "English",
    "Arabic",
    "Cantonese",
    "French",
    "Haitian Creole",
    "Hmong",
    "Japanese",
    "Korean",
    "Mandarin",
    "Marshallese",
    "Portuguese (Brazil)",
    "Russian",
    "Somali",
    "Spanish",
    "Tagalog",
    "Vietnamese",
)
ENGLISH_SPANISH = ("English", "Spanish")

SESSION_TIME_MIN = 5
SESSION_TIME_MAX = 120
SESSION_TIME_DEFAULT = 20


class Product(Enum):
    """A product a district can purchase; the value is the name written in headers."""

    LANGUAGE_LITERACY = "Imagine Language & Literacy"
    ESPANOL = "Imagine Español"
    READING = "Imagine Reading"
    LECTURA = "Imagine Lectura"
    GALILEO = "Imagine Galileo K-12"
    MYPATH = "Imagine MyPath"
    SCIENCE = "Imagine Science"
    PURPOSE = "Imagine Purpose"

    @property
    def code(self) -> str:
        """Short name used in column attributes (`access_<code>`) and the database."""
        return _CODES[self]

    @property
    def access_attr(self) -> str:
        return f"access_{self.code}"

    @property
    def access_locked(self) -> bool:
        """Access, once given, can only be removed by Customer Care, never by an import."""
        return self in (Product.READING, Product.LECTURA)

    @classmethod
    def from_code(cls, code: str) -> Product:
        return _BY_CODE[code]


_CODES = {
    Product.LANGUAGE_LITERACY: "ill",
    Product.ESPANOL: "espanol",
    Product.READING: "reading",
    Product.LECTURA: "lectura",
    Product.GALILEO: "galileo",
    Product.MYPATH: "mypath",
    Product.SCIENCE: "science",
    Product.PURPOSE: "purpose",
}
_BY_CODE = {code: product for product, code in _CODES.items()}


@dataclass(frozen=True)
class ProductSetting:
    """One per-student setting of a product: header `<Product>: <name>`, stored in `attr`.

    `kind` is `minutes` (an integer in the session-time range), `yes_no`, or `choice`
    (one of `choices`).
    """

    product: Product
    name: str
    attr: str
    kind: str
    choices: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return f"{self.product.value}: {self.name}"


PRODUCT_SETTINGS: tuple[ProductSetting, ...] = (
    ProductSetting(Product.LANGUAGE_LITERACY, "Session Time", "session_time", "minutes"),
    ProductSetting(
        Product.LANGUAGE_LITERACY,
        "Language Support",
        "ill_language_support",
        "choice",
        ILL_LANGUAGES,
    ),
    ProductSetting(Product.ESPANOL, "Session Time", "session_time", "minutes"),
    ProductSetting(
        Product.ESPANOL,
        "Language Support",
        "espanol_language_support",
        "choice",
        ENGLISH_SPANISH,
    ),
    ProductSetting(Product.READING, "Audio Support", "reading_audio_support", "yes_no"),
    ProductSetting(Product.LECTURA, "Audio Support", "lectura_audio_support", "yes_no"),
    ProductSetting(Product.MYPATH, "Language", "mypath_language", "choice", ENGLISH_SPANISH),
    ProductSetting(Product.SCIENCE, "Language", "science_language", "choice", ENGLISH_SPANISH),
    ProductSetting(Product.PURPOSE, "Language", "purpose_language", "choice", ENGLISH_SPANISH),
)


def settings_of(product: Product) -> tuple[ProductSetting, ...]:
    return tuple(s for s in PRODUCT_SETTINGS if s.product is product)
