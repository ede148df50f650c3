use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Name,
    Ip,
    Role,
    FtpUsers,
    Paths,
    PathsWrite,
    Settings,
    ApiKeyHash,
    ApiKeyPrefix,
    TokenVersion,
    Disabled,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Username, 64))
                    .col(text(Users::PasswordHash))
                    .col(string_len(Users::Name, 256).default(""))
                    .col(string_len(Users::Ip, 64).default(""))
                    .col(string_len(Users::Role, 64))
                    .col(text(Users::FtpUsers).default(""))
                    .col(text(Users::Paths).default("[]"))
                    .col(text(Users::PathsWrite).default("[]"))
                    .col(text(Users::Settings).default(""))
                    .col(string_len_null(Users::ApiKeyHash, 64).unique_key())
                    .col(string_len_null(Users::ApiKeyPrefix, 32))
                    .col(big_integer(Users::TokenVersion).default(0))
                    .col(boolean(Users::Disabled).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Users::Table).to_owned()).await
    }
}
