from tests.access import ALL_200

GET = {
    "catalogue.index": ("/catalogue", ALL_200),
    "catalogue.search": ("/search?q=jzz", ALL_200),
    "catalogue.item": ("/items/330100GA0001", ALL_200),
    "catalogue.guide_pdf": ("/items/330100GA0001/guide.pdf", ALL_200),
    "catalogue.checklist_pdf": ("/items/330100GA0001/checklist.pdf", ALL_200),
    "catalogue.bundle": ("/bundles/B001", ALL_200),
}
