"""Word lists the generators draw from (realistic-looking, deterministic)."""

from __future__ import annotations

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Henry", "Harper", "Theo", "Evelyn", "Leo", "Aria", "Kai",
    "Chloé", "José", "Zoë", "Søren", "Aiko", "Priya", "Wei", "Fatima", "Olu", "Ingrid",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Lee", "Walker",
    "Hall", "Young", "King", "Wright", "Lopez", "Hill", "Scott", "Green", "Adams", "Baker",
    "Nguyen", "O'Brien", "Müller", "Kowalski", "Tanaka", "Okafor", "Haddad", "Silva", "Novak",
)  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hey.com", "example.org")
ORGANIZATIONS = ("Acme Co", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay Industries")
TITLES = ("Engineer", "Designer", "Buyer", "Founder", "Teacher", "Nurse", "Chef", "Analyst")
LOCALES = ("en-US", "en-GB", "fr-FR", "de-DE", "es-ES", "ja-JP", "pt-BR")
CITIES = (
    # city, region, country, zip, timezone, latitude, longitude
    ("Boston", "MA", "United States", "02110", "America/New_York", 42.3601, -71.0589),
    ("Austin", "TX", "United States", "73301", "America/Chicago", 30.2672, -97.7431),
    ("Denver", "CO", "United States", "80202", "America/Denver", 39.7392, -104.9903),
    ("Seattle", "WA", "United States", "98101", "America/Los_Angeles", 47.6062, -122.3321),
    ("London", "England", "United Kingdom", "EC1A 1BB", "Europe/London", 51.5072, -0.1276),
    ("Paris", "Île-de-France", "France", "75001", "Europe/Paris", 48.8566, 2.3522),
    ("Berlin", "Berlin", "Germany", "10115", "Europe/Berlin", 52.52, 13.405),
    ("Toronto", "ON", "Canada", "M5H 2N2", "America/Toronto", 43.6532, -79.3832),
    ("Sydney", "NSW", "Australia", "2000", "Australia/Sydney", -33.8688, 151.2093),
    ("São Paulo", "SP", "Brazil", "01000-000", "America/Sao_Paulo", -23.5505, -46.6333),
)
PRODUCTS = (
    ("Classic Tee", 24.0), ("Trail Runner Shoes", 129.95), ("Wool Beanie", 19.5),
    ("Canvas Tote", 32.0), ("Ceramic Mug", 14.25), ("Rain Jacket", 189.0),
    ("Yoga Mat", 45.99), ("Water Bottle", 21.0), ("Sunglasses", 79.0), ("Gift Card", 50.0),
)  # fmt: skip
CATEGORIES = ("apparel", "footwear", "accessories", "home", "outdoor", "gifts")
SUBJECTS = (
    "Our biggest sale of the season",
    "New arrivals just for you",
    "You left something behind",
    "Thanks for your order!",
    "A little something for your birthday 🎁",
    "Last chance: 20% off ends tonight",
    "Meet our new collection",
    "We miss you",
)
SMS_BODIES = (
    "Flash sale! 20% off everything today only: {link}",
    "Your order has shipped. Track it here: {link}",
    "Back in stock: the item you loved. Shop now {link}",
)
LIST_NAMES = (
    "Newsletter", "VIP Customers", "Preview List", "SMS Subscribers", "Holiday Shoppers",
    "Wholesale", "Event Attendees", "Sweepstakes", "Back in Stock", "Loyalty Members",
    "Website Popup", "Checkout Opt-in",
)  # fmt: skip
SEGMENT_NAMES = (
    "Engaged (90 days)", "Repeat Buyers", "Lapsed Customers", "High Value", "New Subscribers",
    "Cart Abandoners", "Never Purchased", "Churn Risk",
)  # fmt: skip
FLOW_NAMES = (
    "Welcome Series", "Abandoned Cart", "Browse Abandonment", "Post-Purchase",
    "Winback", "Birthday", "Price Drop", "Back in Stock",
)  # fmt: skip
TAG_NAMES = (
    "Newsletter", "Promotion", "Black Friday", "Welcome", "VIP", "Winback", "Holiday",
    "Product Launch",
)  # fmt: skip
TEMPLATE_NAMES = (
    "Monthly Newsletter", "Sale Announcement", "Order Confirmation", "Welcome Email",
    "Abandoned Cart Reminder", "Product Spotlight", "Birthday Offer", "Re-engagement",
)  # fmt: skip

# name, integration (key, name, category), share of events
METRICS = (
    ("Received Email", ("klaviyo", "Klaviyo", "Internal"), 26.0),
    ("Opened Email", ("klaviyo", "Klaviyo", "Internal"), 18.0),
    ("Clicked Email", ("klaviyo", "Klaviyo", "Internal"), 7.0),
    ("Bounced Email", ("klaviyo", "Klaviyo", "Internal"), 1.0),
    ("Unsubscribed from Email Marketing", ("klaviyo", "Klaviyo", "Internal"), 0.6),
    ("Marked Email as Spam", ("klaviyo", "Klaviyo", "Internal"), 0.2),
    ("Dropped Email", ("klaviyo", "Klaviyo", "Internal"), 0.5),
    ("Placed Order", ("shopify", "Shopify", "eCommerce"), 4.0),
    ("Ordered Product", ("shopify", "Shopify", "eCommerce"), 6.0),
    ("Active on Site", ("api", "API", "API"), 12.0),
    ("Viewed Product", ("api", "API", "API"), 10.0),
    ("Started Checkout", ("shopify", "Shopify", "eCommerce"), 3.0),
    ("Received Text Message", ("klaviyo", "Klaviyo", "Internal"), 3.0),
    ("Clicked Text Message", ("klaviyo", "Klaviyo", "Internal"), 1.0),
    ("Unsubscribed from Text Message Marketing", ("klaviyo", "Klaviyo", "Internal"), 0.3),
    ("Subscribed to List", ("klaviyo", "Klaviyo", "Internal"), 1.0),
    ("Fulfilled Order", ("shopify", "Shopify", "eCommerce"), 2.5),
    ("Cancelled Order", ("shopify", "Shopify", "eCommerce"), 0.3),
    ("Refunded Order", ("shopify", "Shopify", "eCommerce"), 0.3),
    ("Unsubscribed from List", ("klaviyo", "Klaviyo", "Internal"), 0.4),
    ("Updated Email Preferences", ("klaviyo", "Klaviyo", "Internal"), 0.2),
)
