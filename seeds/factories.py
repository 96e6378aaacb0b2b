"""Faker-based builders for people and files; the demo seed and the tests share them."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

from faker import Faker
from PIL import Image
from stdnum.cn import ric

AREA_CODES = ("330106", "330102", "330105", "330108", "330110")  # 杭州: 西湖 上城 拱墅 滨江 余杭
SEED = 20261124


def make_faker(seed: int = SEED) -> Faker:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return fake


def make_id_number(
    birth: date, rng: random.Random, *, female: bool | None = None, area: str | None = None
) -> str:
    """A 居民身份证号 with the area, the birth date and a right check character. As on real
    cards, the area need not have existed in the birth year (services/identity.py)."""
    area = area or rng.choice(AREA_CODES)
    seq = rng.randint(0, 99)
    gender_digit = (
        rng.choice((0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9))
        if female is not None
        else rng.randint(0, 9)
    )
    body = f"{area}{birth:%Y%m%d}{seq:02d}{gender_digit}"
    return body + ric.calc_check_digit(body + "0")


def make_person(
    fake: Faker, rng: random.Random, *, born: date | None = None, phone: str | None = None
) -> dict:
    born = born or date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
    female = rng.random() < 0.5
    return {
        "name": fake.name_female() if female else fake.name_male(),
        "id_number": make_id_number(born, rng, female=female),
        "phone": phone or f"1{rng.choice('35789')}{rng.randint(0, 999_999_999):09d}",
        "address": fake.address().split(" ")[0][:100],
        "birth_date": born,
    }


def make_png(
    width: int = 320, height: int = 200, colour: tuple[int, int, int] = (200, 220, 240)
) -> bytes:
    """A small real PNG (a scanned page stand-in)."""
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), colour)
    for x in range(20, width - 20):
        img.putpixel((x, height // 2), (40, 40, 40))
    img.save(buf, format="PNG")
    return buf.getvalue()
