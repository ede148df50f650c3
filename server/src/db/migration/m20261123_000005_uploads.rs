use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    UserId,
    Target,
    StagingId,
    Length,
    Overwrite,
    Metadata,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// Resumable (tus) uploads in progress: the upload id in the URL, its owner, the target
/// file and the staging file that holds the bytes so far.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(string_len(Uploads::Id, 32).primary_key())
                    .col(big_integer(Uploads::UserId))
                    .col(text(Uploads::Target))
                    .col(string_len(Uploads::StagingId, 32))
                    .col(big_integer(Uploads::Length))
                    .col(boolean(Uploads::Overwrite).default(false))
                    .col(text(Uploads::Metadata).default(""))
                    .col(timestamp_with_time_zone(Uploads::CreatedAt))
                    .col(timestamp_with_time_zone(Uploads::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_uploads_user")
                            .from(Uploads::Table, Uploads::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_uploads_expires_at").table(Uploads::Table).col(Uploads::ExpiresAt).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_uploads_user_id").table(Uploads::Table).col(Uploads::UserId).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Uploads::Table).to_owned()).await
    }
}
