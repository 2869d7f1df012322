"""Display names: library titles give their compound name, feature labels give none."""

import pytest

from registry.chem.names import display_name


@pytest.mark.parametrize(
    "stored, shown",
    [
        ("Pesticide6_Ethirimol_C11H19N3O_882476 M-H", "Ethirimol"),
        ("Pesticide6_Diniconazole_C15H17Cl2N3O_(1E)-x M+FA-H", "Diniconazole"),
        ("Caffeine [M+H]+", "Caffeine"),
        ("caffeine", "caffeine"),
        ("NPE_269.1647_12.5", None),
        ("269.1647_12.50", None),
        ("F 301.1412 @ 7.3 min", None),
        ("2,4-D", "2,4-D"),
        ("1,3,7-trimethylxanthine", "1,3,7-trimethylxanthine"),
        ("Vitamin B12", "Vitamin B12"),
        (None, None),
        ("", ""),
    ],
)
def test_display_names(stored, shown):
    assert display_name(stored) == shown
