//! What surrounds every screen: the header with the context, the flash
//! line, the hint bar, and the overlays (help, confirm dialog).

mod confirm_dialog;
mod flash;
mod header;
mod help;
mod hint_bar;

pub use confirm_dialog::{ConfirmDialog, DialogAction};
pub use flash::{Flash, FlashLevel};
pub use header::render_header;
pub use help::render_help;
pub use hint_bar::render_hints;
