#!/usr/bin/env python3
"""Bundle Census 2021 ethnic group by age band and by sex for London (stop-and-search rates).

Maintainer tool, not part of the package. Run from the repository root::

    python scripts/bundle_demographics.py --shared ../shared/data

It reads the two tables of the shared folder
``demographics/census2021_ethnic_group_age_sex/`` (ONS "Ethnic group by age and sex,
England and Wales: Census 2021", re-hosted by repo ``WildPigen/MY472finalproject``):

* ``census.csv.gz``: 19 ethnic groups x single year of age (0 .. "100 or over") per area;
* ``EthnicGroup.csv.gz``: 19 ethnic groups x sex per area;

keeps the London rows (the London region ``E12000007`` and the local authorities
``E09*``; City of London and Westminster are one area in this release, code
``E09000001``), sums the single years of age into the data.police.uk stop-and-search age
bands (under 10, 10-17, 18-24, 25-34, over 34) and the 19 groups into the 5 broad Census
groups, and writes ``data/demographics/census2021_ethnicity_age_sex_london.csv``.
Suppressed cells (``c``) count as 0 and are counted in ``suppressed_cells``.

It then rewrites the section of ``data/demographics/README.md`` between the markers
``<!-- bundle_demographics:start -->`` and ``<!-- bundle_demographics:end -->`` (appending
it when absent), so ``scripts/bundle_data.py`` can rebuild the rest of that README.
The script fails (non-zero exit) when a shared file does not match the sha256 of the shared
``MANIFEST.csv`` or when the output would exceed 200 kB.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pandas as pd

SOURCE_DIR = "demographics/census2021_ethnic_group_age_sex"
AGE_FILE = f"{SOURCE_DIR}/census.csv.gz"
SEX_FILE = f"{SOURCE_DIR}/EthnicGroup.csv.gz"
OUT_NAME = "census2021_ethnicity_age_sex_london.csv"
MAX_BYTES = 200_000
START = "<!-- bundle_demographics:start -->"
END = "<!-- bundle_demographics:end -->"

BROAD = {
    "Asian, Asian British or Asian Welsh": "Asian",
    "Black, Black British, Black Welsh, Caribbean or African": "Black",
    "Mixed or Multiple ethnic groups": "Mixed",
    "White": "White",
    "Other ethnic group": "Other",
}
AGE_BANDS = (
    ("under 10", 0, 9),
    ("10-17", 10, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("over 34", 35, 200),
)


def die(message: str) -> None:
    print(f"bundle_demographics: {message}", file=sys.stderr)
    sys.exit(1)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verified(shared: Path, rel: str) -> Path:
    manifest = pd.read_csv(shared / "MANIFEST.csv", dtype=str, keep_default_na=False)
    row = manifest.loc[manifest["file"] == rel]
    if row.empty:
        die(f"{rel} is not in {shared / 'MANIFEST.csv'}")
    path = shared / rel
    if sha256(path) != row["sha256"].iloc[0]:
        die(f"{path} does not match the sha256 in the shared MANIFEST.csv")
    return path


def broad_of(column: str) -> str:
    prefix = column.split(":")[0].strip()
    if prefix not in BROAD:
        die(f"unexpected ethnic-group column {column!r}")
    return BROAD[prefix]


def london(frame: pd.DataFrame) -> pd.DataFrame:
    code = frame["Geography Code"]
    return frame[code.str.startswith("E09") | code.eq("E12000007")]


def long_counts(frame: pd.DataFrame, id_columns: list[str]) -> pd.DataFrame:
    groups = [c for c in frame.columns if c not in id_columns]
    long = frame.melt(id_vars=id_columns, value_vars=groups, var_name="detail", value_name="raw")
    long["suppressed"] = long["raw"].eq("c")
    long["population"] = pd.to_numeric(long["raw"].where(~long["suppressed"], "0"), errors="raise")
    long["ethnic_group"] = long["detail"].map(broad_of)
    return long


def age_band(age: str) -> str:
    years = 100 if age.startswith("100") else int(age)
    for label, low, high in AGE_BANDS:
        if low <= years <= high:
            return label
    raise ValueError(age)


def build(shared: Path) -> pd.DataFrame:
    ages = london(pd.read_csv(verified(shared, AGE_FILE), encoding="utf-8-sig", dtype=str))
    ages = ages.rename(columns={"Geography Name": "area_name"})
    age_long = long_counts(ages, ["Geography Code", "area_name", "Age"])
    age_long["band"] = age_long["Age"].map(age_band)
    age_long["dimension"] = "age"

    sexes = london(pd.read_csv(verified(shared, SEX_FILE), encoding="utf-8-sig", dtype=str))
    sexes = sexes.rename(columns={"Region": "area_name"})
    sex_long = long_counts(sexes, ["Geography Code", "area_name", "Sex"])
    sex_long["band"] = sex_long["Sex"]
    sex_long["dimension"] = "sex"

    both = pd.concat([age_long, sex_long], ignore_index=True)
    table = (
        both.groupby(
            ["Geography Code", "area_name", "dimension", "band", "ethnic_group"], sort=True
        )
        .agg(population=("population", "sum"), suppressed_cells=("suppressed", "sum"))
        .reset_index()
        .rename(columns={"Geography Code": "area_code"})
    )
    table["population"] = table["population"].astype(int)
    table["suppressed_cells"] = table["suppressed_cells"].astype(int)
    if table["area_code"].nunique() != 33:
        die(f"expected 33 London areas (region + 32 LAs), got {table['area_code'].nunique()}")
    return table


def readme_section(table: pd.DataFrame, out_path: Path) -> str:
    region = table[table["area_code"] == "E12000007"]
    by_dim = region.groupby("dimension")["population"].sum()
    suppressed = region.groupby("dimension")["suppressed_cells"].sum()
    sex_total = int(by_dim["sex"])
    age_total = int(by_dim["age"])
    la = table[table["area_code"] != "E12000007"]
    la_supp = la.groupby("dimension")["suppressed_cells"].sum()
    return f"""{START}
## `{OUT_NAME}` — Census 2021, ethnic group by age band and by sex, London

| file | size | sha256 |
|---|---|---|
| `{OUT_NAME}` | {out_path.stat().st_size / 1024:.1f} KB | `{sha256(out_path)}` |

* **Derived** by `scripts/bundle_demographics.py` from the shared
  `{AGE_FILE}` (19 ethnic groups x single year of age per area) and `{SEX_FILE}` (19 groups x sex),
  both from repo `WildPigen/MY472finalproject` (an LSE MY472 student project; provenance medium, see
  the shared README section 11). They match the ONS release "Ethnic group by age and sex, England and
  Wales: Census 2021": counts **rounded to 5**, small cells suppressed as `c`.
* Derivation: London rows only (region `E12000007` and the local authorities `E09*`; **City of London
  and Westminster are one area** in this release, code `E09000001`, name "City of London and
  Westminster"); single years summed into the data.police.uk stop-and-search age bands (under 10 = 0-9,
  10-17, 18-24, 25-34, over 34 = 35 and over); the 19 detailed groups summed into the 5 broad Census
  groups (Asian, Black, Mixed, White, Other; Chinese is Asian, Arab is Other, Roma and Gypsy or Irish
  Traveller are White); `c` counted as 0, with the number of such cells in `suppressed_cells`.
* Columns `area_code, area_name, dimension (age|sex), band, ethnic_group, population, suppressed_cells`;
  {len(table):,} rows.
* London region totals: by sex {sex_total:,} (no suppressed cells: {int(suppressed["sex"]) == 0});
  by age {age_total:,} ({int(suppressed["age"])} suppressed single-year cells counted as 0). Local
  authority rows: {int(la_supp.get("age", 0)):,} suppressed single-year cells (age), {int(la_supp.get("sex", 0)):,} (sex).
* There is no 3-way ethnic group x age x sex table: rates by age band and by sex are computed
  separately, and for London as a whole (`hotspots stops`), not per borough.
* Licence: ONS Census data, Open Government Licence v3.0 ("Source: Office for National Statistics
  licensed under the Open Government Licence v.3.0").
{END}
"""


def update_readme(readme: Path, section: str) -> None:
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if START in text and END in text:
        before = text.split(START)[0]
        after = text.split(END, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    args = parser.parse_args()
    table = build(args.shared)
    out_path = args.data / "demographics" / OUT_NAME
    out_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_path, index=False, lineterminator="\n")
    if out_path.stat().st_size > MAX_BYTES:
        die(f"{out_path} is {out_path.stat().st_size:,} bytes (limit {MAX_BYTES:,})")
    update_readme(args.data / "demographics" / "README.md", readme_section(table, out_path))
    print(f"wrote {out_path} ({out_path.stat().st_size:,} bytes, {len(table):,} rows)")


if __name__ == "__main__":
    main()
