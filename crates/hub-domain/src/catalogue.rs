//! The bucket catalogue: every project has these buckets, each with its own metadata schema.
//! This file is the one place the schemas are defined; the API, the UI filters, validation and the
//! documentation all read them from here.

use serde::Serialize;

/// The type of a metadata field and what values it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text, trimmed, at most `max` characters.
    Text { max: usize },
    /// A whole number within `min..=max`.
    Integer { min: i64, max: i64 },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of a fixed list (matched without regard to case, stored as listed).
    Choice { choices: &'static [&'static str] },
}

/// One metadata field of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldDef {
    pub key: &'static str,
    pub label: &'static str,
    #[serde(flatten)]
    pub kind: FieldKind,
    pub required: bool,
    /// Offered as a filter when browsing, and indexed for it.
    pub filterable: bool,
}

const fn text(key: &'static str, label: &'static str, required: bool, filterable: bool) -> FieldDef {
    FieldDef { key, label, kind: FieldKind::Text { max: 200 }, required, filterable }
}
const fn int(key: &'static str, label: &'static str, min: i64, max: i64, required: bool) -> FieldDef {
    FieldDef { key, label, kind: FieldKind::Integer { min, max }, required, filterable: true }
}
const fn choice(key: &'static str, label: &'static str, choices: &'static [&'static str], required: bool) -> FieldDef {
    FieldDef { key, label, kind: FieldKind::Choice { choices }, required, filterable: true }
}
const fn date(key: &'static str, label: &'static str, required: bool) -> FieldDef {
    FieldDef { key, label, kind: FieldKind::Date, required, filterable: true }
}

const REEL: FieldDef = int("reel", "Reel", 1, 99, true);
const EPISODE: FieldDef = text("episode", "Episode", false, true);
const LANGUAGE: FieldDef = text("language", "Language", false, true);
const NOTES: FieldDef = text("notes", "Notes", false, false);

const FOOTAGE: &[FieldDef] = &[
    date("shoot_day", "Shoot day", true),
    choice("type", "Type", &["camera RAW", "proxy", "sound roll", "LUT", "CDL"], true),
    text("camera_roll", "Camera roll", false, true),
    text("sound_roll", "Sound roll", false, true),
    EPISODE,
    text("scene", "Scene", false, true),
    text("take", "Take", false, true),
    NOTES,
];
const DAILIES_BINS: &[FieldDef] =
    &[date("shoot_day", "Shoot day", true), EPISODE, text("bin", "Bin", false, true), NOTES];
const EDITORIAL: &[FieldDef] = &[
    choice("type", "Type", &["cut", "EDL", "AAF", "XML", "reference"], true),
    EPISODE,
    text("version", "Version", false, true),
    NOTES,
];
const SOUND_MATERIALS: &[FieldDef] =
    &[choice("type", "Type", &["production sound", "effects", "foley", "dialogue", "ADR"], true), EPISODE, NOTES];
const VFX: &[FieldDef] = &[
    text("shot", "Shot", true, true),
    int("version", "Version", 1, 9999, true),
    text("vendor", "Vendor", false, true),
    EPISODE,
    NOTES,
];
const MUSIC: &[FieldDef] =
    &[text("cue", "Cue", true, true), choice("type", "Type", &["score", "source", "stems", "cue sheet"], false), NOTES];
const FINAL_SOUND: &[FieldDef] = &[
    REEL,
    choice("mix_type", "Mix type", &["printmaster", "stems", "M&E"], true),
    choice("format", "Format", &["2.0", "5.1", "7.1", "Atmos"], true),
    LANGUAGE,
    NOTES,
];
const PICTURE_DELIVERABLES: &[FieldDef] = &[
    REEL,
    choice("deliverable_type", "Deliverable type", &["DCDM", "VDM", "IMF", "ProRes master", "frame sequence"], true),
    choice("colour_space", "Colour space", &["Rec.709", "P3-D65", "Rec.2020 PQ", "ACES"], true),
    NOTES,
];
const NON_DISTRIBUTION_MASTERS: &[FieldDef] =
    &[REEL, choice("master_type", "Master type", &["textless", "archival", "mezzanine"], true), LANGUAGE, NOTES];

/// The buckets every project has.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BucketKind {
    Footage,
    DailiesBins,
    Editorial,
    SoundMaterials,
    Vfx,
    Music,
    FinalSound,
    PictureDeliverables,
    NonDistributionMasters,
}

impl BucketKind {
    pub const ALL: [BucketKind; 9] = [
        BucketKind::Footage,
        BucketKind::DailiesBins,
        BucketKind::Editorial,
        BucketKind::SoundMaterials,
        BucketKind::Vfx,
        BucketKind::Music,
        BucketKind::FinalSound,
        BucketKind::PictureDeliverables,
        BucketKind::NonDistributionMasters,
    ];

    /// The identifier used in URLs and the database.
    pub fn slug(self) -> &'static str {
        match self {
            BucketKind::Footage => "footage",
            BucketKind::DailiesBins => "dailies-bins",
            BucketKind::Editorial => "editorial",
            BucketKind::SoundMaterials => "sound-materials",
            BucketKind::Vfx => "vfx",
            BucketKind::Music => "music",
            BucketKind::FinalSound => "final-sound",
            BucketKind::PictureDeliverables => "picture-deliverables",
            BucketKind::NonDistributionMasters => "non-distribution-masters",
        }
    }

    pub fn from_slug(slug: &str) -> Option<BucketKind> {
        BucketKind::ALL.into_iter().find(|b| b.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            BucketKind::Footage => "Footage",
            BucketKind::DailiesBins => "Dailies Bins",
            BucketKind::Editorial => "Editorial",
            BucketKind::SoundMaterials => "Sound Materials",
            BucketKind::Vfx => "VFX",
            BucketKind::Music => "Music",
            BucketKind::FinalSound => "Final Sound",
            BucketKind::PictureDeliverables => "Picture Deliverables (DI assets)",
            BucketKind::NonDistributionMasters => "Non-Distribution Masters",
        }
    }

    /// Whether a file with `metadata` in this bucket is a browser proxy, held to H.264 with fast
    /// start (issue 13, bug 5): in Footage, one whose `type` is `proxy`. Every other movie is a
    /// master, a cut or a camera original, described rather than judged.
    pub fn is_proxy(self, metadata: &crate::Metadata) -> bool {
        self == BucketKind::Footage && metadata.get("type").and_then(|v| v.as_str()) == Some("proxy")
    }

    /// Footage is written by pipelines through API tokens only, never from a browser session.
    pub fn api_only(self) -> bool {
        self == BucketKind::Footage
    }

    /// Request-based buckets hold requests that deliveries fulfil.
    pub fn request_based(self) -> bool {
        matches!(self, BucketKind::FinalSound | BucketKind::PictureDeliverables | BucketKind::NonDistributionMasters)
    }

    pub fn schema(self) -> &'static [FieldDef] {
        match self {
            BucketKind::Footage => FOOTAGE,
            BucketKind::DailiesBins => DAILIES_BINS,
            BucketKind::Editorial => EDITORIAL,
            BucketKind::SoundMaterials => SOUND_MATERIALS,
            BucketKind::Vfx => VFX,
            BucketKind::Music => MUSIC,
            BucketKind::FinalSound => FINAL_SOUND,
            BucketKind::PictureDeliverables => PICTURE_DELIVERABLES,
            BucketKind::NonDistributionMasters => NON_DISTRIBUTION_MASTERS,
        }
    }

    pub fn field(self, key: &str) -> Option<&'static FieldDef> {
        self.schema().iter().find(|f| f.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn slugs_round_trip_and_are_unique() {
        let mut seen = HashSet::new();
        for bucket in BucketKind::ALL {
            assert_eq!(BucketKind::from_slug(bucket.slug()), Some(bucket));
            assert!(seen.insert(bucket.slug()));
            // serde uses the same spelling as the URLs.
            assert_eq!(serde_json::to_value(bucket).unwrap(), bucket.slug());
        }
        assert_eq!(BucketKind::from_slug("nope"), None);
    }

    #[test]
    fn schemas_are_well_formed() {
        for bucket in BucketKind::ALL {
            let mut keys = HashSet::new();
            for field in bucket.schema() {
                assert!(keys.insert(field.key), "{bucket:?} repeats {}", field.key);
                assert!(field.key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", field.key);
                if let FieldKind::Choice { choices } = field.kind {
                    assert!(!choices.is_empty());
                }
            }
            if bucket.request_based() {
                assert_eq!(bucket.field("reel").map(|f| f.required), Some(true), "{bucket:?} needs a reel");
            }
        }
        assert_eq!(BucketKind::ALL.iter().filter(|b| b.request_based()).count(), 3);
        assert_eq!(BucketKind::ALL.iter().filter(|b| b.api_only()).count(), 1);
    }
}
